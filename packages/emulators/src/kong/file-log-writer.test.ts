import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileLogWriter } from './file-log-writer.js';

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
});
