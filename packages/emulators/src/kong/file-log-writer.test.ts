import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileLogWriter, KEPT_BUFFER_BYTES, type OpenForAppend } from './file-log-writer.js';

// The writer on its own: lines encoded into its buffers as they come must reach the file whole and in order,
// however long or far from ASCII, and a batch that cannot be written is counted, not lost silently.

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'file-log-writer-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('FileLogWriter', () => {
  it('writes every line whole and in order, past its buffer size and in UTF-8', async () => {
    const path = join(dir, 'ordered.log');
    const writer = new FileLogWriter(path);
    const lines = [
      'plain',
      `{"long":"${'x'.repeat(200_000)}"}`, // more than the 64 KiB a buffer starts with
      '{"text":"Grüße, ünïcödé 😀"}',
      ...Array.from({ length: 2_000 }, (_, i) => `{"n":${i},"pad":"${'y'.repeat(100)}"}`),
    ];
    // three batches: the third fills the buffer the first one was written from (grown for its long line)
    for (const line of lines.slice(0, 3)) writer.append(line);
    await writer.flush();
    for (const line of lines.slice(3, 1_000)) writer.append(line);
    await writer.flush();
    for (const line of lines.slice(1_000)) writer.append(line);
    await writer.flush();
    expect(await readFile(path, 'utf8')).toBe(`${lines.join('\n')}\n`);
    expect(writer.failedLines).toBe(0);
  });

  it('writes the lines appended after a batch was taken out, after that batch', async () => {
    const path = join(dir, 'overlap.log');
    const writer = new FileLogWriter(path);
    writer.append('first');
    // past the batch window the first batch has left the buffer it was encoded into; more lines follow
    await new Promise((resolve) => setTimeout(resolve, 15));
    writer.append('second');
    writer.append('third');
    await writer.flush();
    expect(await readFile(path, 'utf8')).toBe('first\nsecond\nthird\n');
  });

  it('counts the lines of a batch it cannot write, and goes on once it can', async () => {
    const path = join(dir, 'missing', 'audit.log');
    const writer = new FileLogWriter(path);
    const errors: unknown[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => errors.push(args);
    try {
      writer.append('a');
      writer.append('b');
      await writer.flush();
    } finally {
      console.error = original;
    }
    expect(writer.failedLines).toBe(2);
    expect((writer.lastError as NodeJS.ErrnoException).code).toBe('ENOENT');
    expect(errors).toHaveLength(1);
    await mkdir(join(dir, 'missing'));
    writer.append('c');
    await writer.flush();
    expect(await readFile(path, 'utf8')).toBe('c\n');
    expect(writer.failedLines).toBe(2);
  });

  it('counts only the lines that did not reach the file when a write fails part way (a disk that filled up)', async () => {
    const kept: Buffer[] = [];
    // a file that takes the first 14 bytes of a batch, then refuses with ENOSPC
    const fullDisk: OpenForAppend = async () => ({
      write: (async (data: Buffer, offset: number, length: number) => {
        const room = Math.max(0, 14 - kept.reduce((sum, chunk) => sum + chunk.length, 0));
        if (room === 0)
          throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
        const taken = Math.min(room, length);
        kept.push(Buffer.from(data.subarray(offset, offset + taken)));
        return { bytesWritten: taken, buffer: data };
      }) as never,
      close: async () => {},
    });
    const writer = new FileLogWriter(join(dir, 'full.log'), fullDisk);
    const original = console.error;
    console.error = () => {};
    try {
      for (const line of ['line-1', 'line-2', 'line-3', 'line-4']) writer.append(line);
      await writer.flush();
    } finally {
      console.error = original;
    }
    // 'line-1\n' and 'line-2\n' fit in 14 bytes: two lines whole, two lost
    expect(Buffer.concat(kept).toString()).toBe('line-1\nline-2\n');
    expect(writer.failedLines).toBe(2);
    expect((writer.lastError as NodeJS.ErrnoException).code).toBe('ENOSPC');
  });

  it('lets go of a buffer a burst grew, once its batch is written', async () => {
    const path = join(dir, 'burst.log');
    const writer = new FileLogWriter(path);
    const small = writer.bufferedCapacity;
    writer.append('z'.repeat(KEPT_BUFFER_BYTES)); // up to three bytes per character are set aside
    expect(writer.bufferedCapacity).toBeGreaterThan(3 * KEPT_BUFFER_BYTES);
    await writer.flush();
    expect(writer.bufferedCapacity).toBe(small);
    writer.append('after');
    await writer.flush();
    expect((await readFile(path, 'utf8')).endsWith('z\nafter\n')).toBe(true);
  });
});
