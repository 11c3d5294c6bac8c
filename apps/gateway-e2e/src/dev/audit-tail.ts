import { open, stat } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { setTimeout as sleep } from 'node:timers/promises';

// The gateway's audit log (Kong file-log: one JSON object per line), followed as it grows and shown one compact
// line per request: time, consumer, model, requested version, status, latency. The authorization header is
// never in these lines (Kong writes it REDACTED anyway).

/** What a file-log line says about one request, as far as the dev view shows it. */
export interface AuditLine {
  time: string;
  consumer: string;
  model: string;
  version: string;
  status: number;
  latencyMs: number;
  route: string;
}

export function auditLineOf(record: Record<string, unknown>): AuditLine {
  const consumer = (record.consumer as { username?: string } | undefined)?.username;
  const response = record.response as { status?: number } | undefined;
  const latencies = record.latencies as { request?: number } | undefined;
  const route = (record.route as { name?: string } | undefined)?.name;
  return {
    time: new Date(typeof record.started_at === 'number' ? record.started_at : Date.now())
      .toISOString()
      .slice(11, 23),
    consumer: consumer ?? '-',
    model: typeof record.model === 'string' ? record.model : '-',
    version: typeof record.model_version === 'string' ? record.model_version : '-',
    status: response?.status ?? 0,
    latencyMs: latencies?.request ?? -1,
    route: route ?? '(no route)',
  };
}

export function formatAuditLine(line: AuditLine): string {
  return `${line.time}  ${line.consumer.padEnd(16)} ${line.model.padEnd(14)} ${line.version.padEnd(8)} ${String(line.status).padEnd(4)} ${String(line.latencyMs).padStart(5)} ms  ${line.route}`;
}

/**
 * Follows `file` from its current end, calling `onLine` per complete JSON line, until the signal aborts; as
 * `tail -F` does, it starts over when the file is truncated, and goes on to the new file when it is rotated
 * by renaming (once the old one is read to its end).
 */
export async function followAuditLog(
  file: string,
  onLine: (line: AuditLine) => void,
  signal: AbortSignal,
  pollMs = 200,
): Promise<void> {
  let handle = await open(file, 'r');
  try {
    let position = (await handle.stat()).size;
    // a read may end inside a character (a line being written): the decoder keeps its first bytes for the next
    let decoder = new StringDecoder('utf8');
    let partial = '';
    const startOver = () => {
      position = 0;
      decoder = new StringDecoder('utf8');
      partial = '';
    };
    while (!signal.aborted) {
      const { size, ino } = await handle.stat();
      if (size < position) startOver(); // truncated (copytruncate): what was left of the old text goes
      if (size > position) {
        const buffer = Buffer.alloc(size - position);
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
        position += bytesRead;
        const lines = (partial + decoder.write(buffer.subarray(0, bytesRead))).split('\n');
        partial = lines.pop() ?? '';
        for (const text of lines) {
          if (!text.trim()) continue;
          try {
            onLine(auditLineOf(JSON.parse(text) as Record<string, unknown>));
          } catch {
            // a line that is not JSON is not an audit record: nothing to show
          }
        }
      }
      const named = await stat(file).catch(() => undefined);
      if (named && named.ino !== ino) {
        // renamed away (logrotate's default), and the gateway writes to a new file under the name; a line
        // may still have reached the old one since it was read: read it again first, until nothing comes
        if ((await handle.stat()).size > position) continue;
        const next = await open(file, 'r').catch(() => undefined); // gone again: try at the next poll
        if (next) {
          await handle.close();
          handle = next;
          startOver();
          continue;
        }
      }
      await sleep(pollMs, undefined, { signal }).catch(() => undefined);
    }
  } finally {
    await handle.close();
  }
}
