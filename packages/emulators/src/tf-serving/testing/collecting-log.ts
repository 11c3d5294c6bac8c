import { ServerLog } from '../server-log.js';

/** A ServerLog whose lines a test can read back (without the timestamp prefix, for exact matches). */
export function collectingLog(): { log: ServerLog; lines: string[]; messages: () => string[] } {
  const lines: string[] = [];
  const log = new ServerLog((line) => lines.push(line));
  return { log, lines, messages: () => lines.map((line) => line.replace(/^[^\]]*\] /, '')) };
}
