import { type FileHandle, open } from 'node:fs/promises';

// file-log's writer: lines for one path go through a single ordered queue, so concurrent requests never
// interleave or drop a line. What arrives within BATCH_MS of a first line is appended together (Kong writes
// each line at once: here a line reaches the file at most BATCH_MS after its response closed, which a reader
// polling the log cannot tell apart); flush() resolves once every queued line is on disk. Each batch opens
// the file afresh (O_APPEND), as Kong's `reopen: true` does, so log rotation loses nothing.
// A line is encoded into the batch's buffer as it comes (a line kept as a string until its batch is written
// would outlive a young-generation collection or two, and be copied and promoted: that cost more than the
// rest of file-log together); two buffers, one filling while the other is written, are kept from batch to
// batch, and the writes go through libuv's thread pool: the kernel's copy, the larger part of a line's cost, runs beside
// the event loop, not on it, where nginx's blocking write holds only its own worker. A FIFO or a pipe whose
// reader is stuck then holds up the log and one thread of that pool (four by default, shared with DNS
// lookups): the emulator still answers requests and signals, and the lines wait in memory.

/** How long the first line of a batch waits for others. */
export const BATCH_MS = 10;
/** The size each buffer starts with, and goes back to after a batch larger than KEPT_BUFFER_BYTES. */
const INITIAL_BUFFER_BYTES = 64 * 1024;
/** A buffer grown past this for a burst is not kept once its batch is written. */
export const KEPT_BUFFER_BYTES = 1024 * 1024;

/** How the writer opens its file for each batch (the test's stand-in for a disk that fills up). */
export type OpenForAppend = (path: string) => Promise<Pick<FileHandle, 'write' | 'close'>>;

const openForAppend: OpenForAppend = (path) => open(path, 'a', 0o644);

export class FileLogWriter {
  /** The batch being filled: lines are encoded as they come, so no line outlives its request as a string. */
  private filling = Buffer.allocUnsafe(INITIAL_BUFFER_BYTES);
  private length = 0;
  private lines = 0;
  /** The buffer of the batch being written, filled again once that write is done. */
  private spare = Buffer.allocUnsafe(INITIAL_BUFFER_BYTES);
  private draining: Promise<void> | undefined;
  /** Lines that could not be written (the directory is missing, no permission), and the last error. */
  failedLines = 0;
  lastError: Error | undefined;

  constructor(
    readonly path: string,
    private readonly openFile: OpenForAppend = openForAppend,
  ) {}

  /** The bytes this writer holds in its two buffers (what a burst grew them to, until it is written). */
  get bufferedCapacity(): number {
    return this.filling.length + this.spare.length;
  }

  /** Queues one line (its newline is added). */
  append(line: string): void {
    // three bytes per UTF-16 unit at most, and the newline
    const most = line.length * 3 + 1;
    if (this.length + most > this.filling.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.filling.length * 2, this.length + most));
      this.filling.copy(grown, 0, 0, this.length);
      this.filling = grown;
    }
    this.length += this.filling.write(line, this.length);
    this.filling[this.length++] = 0x0a;
    this.lines++;
    this.draining ??= this.drain();
  }

  /** Resolves when every line appended so far has been written (or has failed). */
  async flush(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private async drain(): Promise<void> {
    while (this.lines > 0) {
      await new Promise((resolve) => setTimeout(resolve, BATCH_MS)); // the lines that come meanwhile join
      const batch = this.filling;
      const { length, lines } = this;
      this.filling = this.spare;
      this.spare = batch;
      this.length = 0;
      this.lines = 0;
      const progress = { written: 0 };
      try {
        await this.write(batch, length, progress);
      } catch (error) {
        // Kong logs each failure to its error log; once per path is enough to show the cause here
        if (this.lastError === undefined)
          console.error(`kong emulator: file-log cannot write to ${this.path}: ${(error as Error).message}`);
        // the lines whose newline did not reach the file (a disk that filled up mid-batch kept the rest)
        this.failedLines += progress.written === 0 ? lines : newlines(batch, progress.written, length);
        this.lastError = error as Error;
      }
      // a burst grew this buffer: let it go rather than hold its size for good
      if (this.spare.length > KEPT_BUFFER_BYTES) this.spare = Buffer.allocUnsafe(INITIAL_BUFFER_BYTES);
    }
    this.draining = undefined;
  }

  private async write(data: Buffer, length: number, progress: { written: number }): Promise<void> {
    const file = await this.openFile(this.path);
    try {
      while (progress.written < length)
        progress.written += (
          await file.write(data, progress.written, length - progress.written)
        ).bytesWritten;
    } finally {
      await file.close();
    }
  }
}

function newlines(data: Buffer, from: number, to: number): number {
  let count = 0;
  for (let at = data.indexOf(0x0a, from); at !== -1 && at < to; at = data.indexOf(0x0a, at + 1)) count++;
  return count;
}

/** One writer per path, shared by every file-log instance that names it. */
export class FileLogWriters {
  private readonly writers = new Map<string, FileLogWriter>();

  writer(path: string): FileLogWriter {
    let writer = this.writers.get(path);
    if (!writer) {
      writer = new FileLogWriter(path);
      this.writers.set(path, writer);
    }
    return writer;
  }

  async flush(): Promise<void> {
    await Promise.all([...this.writers.values()].map((writer) => writer.flush()));
  }
}
