import { execFileSync } from 'node:child_process';
import { openSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import {
  FileLogWriter,
  INITIAL_BUFFER_BYTES,
  KEPT_BUFFER_BYTES,
  type OpenForAppend,
} from './file-log-writer.js';

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

  it('ends an object line with the members given in place of its closing brace, between plain lines', async () => {
    const path = join(dir, 'objects.log');
    const writer = new FileLogWriter(path);
    const members = Buffer.from(',"route":{"name":"ré"},"n":[1,2]}');
    writer.append('plain');
    writer.appendObject('{"a":"ü"}', undefined, members);
    writer.appendObject('{"a":1}', Buffer.from(',"b":"ü"'), Buffer.from(',"c":3}'));
    writer.appendObject('{"alone":true}');
    // past the 64 KiB the buffer starts with
    writer.appendObject(`{"long":"${'x'.repeat(100_000)}"}`, undefined, members);
    await writer.flush();
    expect((await readFile(path, 'utf8')).split('\n')).toEqual([
      'plain',
      '{"a":"ü","route":{"name":"ré"},"n":[1,2]}',
      '{"a":1,"b":"ü","c":3}',
      '{"alone":true}',
      `{"long":"${'x'.repeat(100_000)}","route":{"name":"ré"},"n":[1,2]}`,
      '',
    ]);
  });

  it('grows its buffer for the members too, where the JSON alone would just fit', async () => {
    const path = join(dir, 'members-at-capacity.log');
    const writer = new FileLogWriter(path);
    // three UTF-8 bytes a character: the JSON's own bound (3 a unit, and the newline) fills the first buffer
    // exactly, and the 34 bytes of members, less the brace they replace, go past it
    const euros = '€'.repeat(Math.floor((INITIAL_BUFFER_BYTES - 25) / 3));
    const members = Buffer.from(',"route":{"name":"ré"},"n":[1,2]}');
    writer.appendObject(`{"e":"${euros}"}`, undefined, members);
    await writer.flush();
    expect(await readFile(path, 'utf8')).toBe(`{"e":"${euros}","route":{"name":"ré"},"n":[1,2]}\n`);
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
    const writer = new FileLogWriter(join(dir, 'full.log'), { openFile: fullDisk });
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

  it('waits for a FIFO reader without holding a thread of the pool, then writes every line, a full pipe included', async () => {
    // one FIFO more than libuv's pool has threads: a writer blocked in open() on each would leave none for
    // the file reads and DNS lookups the emulator makes meanwhile
    const threads = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
    const fifos = Array.from({ length: threads + 1 }, (_, i) => join(dir, `reader-${i}.fifo`));
    for (const fifo of fifos) execFileSync('mkfifo', [fifo]);
    // read ends opened read-write, which never blocks and never sees an end when a batch closes its file
    // (each batch reopens it, as with `reopen: true`), read through the event loop (a stream of the pool would
    // hold a thread in each read); opened here, on this thread, so that a pool held by blocked writers cannot
    // keep them from opening, and a writer stuck in open() is freed whatever the outcome
    const readers: Socket[] = [];
    onTestFinished(() => {
      for (const fifo of fifos.slice(readers.length))
        readers.push(new Socket({ fd: openSync(fifo, 'r+'), readable: true, writable: false }));
      setTimeout(() => {
        for (const reader of readers) reader.destroy();
      }, 1_000);
    });
    const writers = fifos.map((fifo) => new FileLogWriter(fifo));
    const said: string[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => said.push(args.map(String).join(' '));
    onTestFinished(() => {
      console.error = original;
    });
    // more than a pipe holds (64 KiB on Linux): the writes meet a full pipe until the reader drains it
    const lines = Array.from({ length: 3_000 }, (_, i) => `{"n":${i},"pad":"${'p'.repeat(60)}"}`);
    const expected = `${lines.join('\n')}\n`;
    for (const writer of writers) for (const line of lines) writer.append(line);
    let flushed = false;
    const flushing = Promise.all(writers.map((writer) => writer.flush())).then(() => {
      flushed = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const probe = join(dir, 'pool-probe.txt');
    await writeFile(probe, 'pool free'); // goes through the pool: it must not wait behind the FIFOs
    expect(await readFile(probe, 'utf8')).toBe('pool free');
    expect(flushed).toBe(false); // nobody reads yet: the lines wait, as they would in Kong
    const received = fifos.map((fifo) => {
      const reader = new Socket({ fd: openSync(fifo, 'r+'), readable: true, writable: false });
      readers.push(reader);
      reader.setEncoding('utf8');
      return new Promise<string>((resolve) => {
        let text = '';
        reader.on('data', (chunk: string) => {
          text += chunk;
          if (text.length >= expected.length) resolve(text);
        });
      });
    });
    await flushing;
    for (const text of await Promise.all(received)) expect(text).toBe(expected);
    for (const writer of writers) expect(writer.failedLines).toBe(0);
    // the wait is said once for each FIFO, however many times its open was tried
    expect(said.toSorted()).toEqual(
      fifos.map((fifo) => `kong emulator: file-log waits for a reader of the FIFO ${fifo}`).toSorted(),
    );
  });

  it('drops and counts the lines past what may wait, says so once, and takes lines again once written', async () => {
    let release = () => {};
    const opened = new Promise<void>((resolve) => {
      release = resolve;
    });
    const written: string[] = [];
    // a file that takes nothing until released (a FIFO whose reader is stuck)
    const stuck: OpenForAppend = async () => {
      await opened;
      return {
        write: (async (data: Buffer, offset: number, length: number) => {
          written.push(data.toString('utf8', offset, offset + length));
          return { bytesWritten: length, buffer: data };
        }) as never,
        close: async () => {},
      };
    };
    const writer = new FileLogWriter(join(dir, 'stuck.log'), { openFile: stuck, maxPendingBytes: 1_000 });
    const errors: unknown[][] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => errors.push(args);
    try {
      writer.append('first'); // taken out as the first batch, which waits on the stuck file
      await new Promise((resolve) => setTimeout(resolve, 30));
      // a line of 100 characters is let in while 301 bytes (its most) still fit under 1,000: seven are, the
      // other three are dropped
      for (let i = 0; i < 10; i++) writer.append(`${i}`.repeat(100));
      expect(writer.failedLines).toBe(3);
      // a short line still fits between the drops: the dropping goes on, and is not said again
      writer.append('s');
      writer.append('x'.repeat(100));
      expect(writer.failedLines).toBe(4);
      expect(errors).toHaveLength(1);
      expect(String(errors[0]?.[0])).toContain('file-log drops lines for');
      release();
      await writer.flush();
      writer.append('after');
      await writer.flush();
    } finally {
      console.error = original;
    }
    const kept = Array.from({ length: 7 }, (_, i) => `${i}`.repeat(100));
    expect(written.join('')).toBe(`first\n${kept.join('\n')}\ns\nafter\n`);
    expect(writer.failedLines).toBe(4);
  });

  it('waits between writes that take nothing rather than spin', async () => {
    let calls = 0;
    let accepting = false;
    const written: string[] = [];
    const slow: OpenForAppend = async () => ({
      write: (async (data: Buffer, offset: number, length: number) => {
        calls++;
        if (!accepting) return { bytesWritten: 0, buffer: data };
        written.push(data.toString('utf8', offset, offset + length));
        return { bytesWritten: length, buffer: data };
      }) as never,
      close: async () => {},
    });
    const writer = new FileLogWriter(join(dir, 'slow.log'), { openFile: slow });
    writer.append('line');
    await new Promise((resolve) => setTimeout(resolve, 100));
    accepting = true;
    await writer.flush();
    expect(written).toEqual(['line\n']);
    // about one try per RETRY_MS in the 90 ms the file took nothing; a loop that spun would make thousands
    expect(calls).toBeLessThan(30);
    expect(writer.failedLines).toBe(0);
  });

  it('counts the lines for a path that is a socket (ENXIO, as for a FIFO without reader) rather than wait', async () => {
    const path = join(dir, 'audit.sock');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(path, resolve));
    onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const writer = new FileLogWriter(path);
    const original = console.error;
    console.error = () => {};
    try {
      writer.append('a');
      writer.append('b');
      await writer.flush(); // a FIFO would wait for a reader here; a socket never gets one
    } finally {
      console.error = original;
    }
    expect(writer.failedLines).toBe(2);
    expect((writer.lastError as NodeJS.ErrnoException).code).toBe('ENXIO');
  });
});
