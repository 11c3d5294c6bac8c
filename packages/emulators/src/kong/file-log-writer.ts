import { open } from 'node:fs/promises';

// file-log's writer: lines for one path go through a single ordered queue, so concurrent requests never
// interleave or drop a line. What arrives within BATCH_MS of a first line is appended together (Kong writes
// each line at once: here a line reaches the file at most BATCH_MS after its response closed, which a reader
// polling the log cannot tell apart); flush() resolves once every queued line is on disk. Each batch opens
// the file afresh (O_APPEND), as Kong's `reopen: true` does, so log rotation loses nothing.
// A batch is encoded into one buffer kept from batch to batch (no joined string, no fresh memory per batch)
// and written through libuv's thread pool: the kernel's copy, the larger part of a line's cost, runs beside
// the event loop, not on it, where nginx's blocking write holds only its own worker. A FIFO or a pipe whose
// reader is stuck then holds up only the log: the emulator still answers requests and signals.

/** How long the first line of a batch waits for others. */
export const BATCH_MS = 10;

export class FileLogWriter {
  private pending: string[] = [];
  private draining: Promise<void> | undefined;
  private buffer = Buffer.allocUnsafe(64 * 1024);
  /** Lines that could not be written (the directory is missing, no permission), and the last error. */
  failedLines = 0;
  lastError: Error | undefined;

  constructor(readonly path: string) {}

  append(line: string): void {
    this.pending.push(line);
    this.draining ??= this.drain();
  }

  /** Resolves when every line appended so far has been written (or has failed). */
  async flush(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private async drain(): Promise<void> {
    while (this.pending.length > 0) {
      await new Promise((resolve) => setTimeout(resolve, BATCH_MS)); // the lines that come meanwhile join
      const batch = this.pending;
      this.pending = [];
      try {
        await this.write(this.encode(batch));
      } catch (error) {
        // Kong logs each failure to its error log; once per path is enough to show the cause here
        if (this.lastError === undefined)
          console.error(`kong emulator: file-log cannot write to ${this.path}: ${(error as Error).message}`);
        this.failedLines += batch.length;
        this.lastError = error as Error;
      }
    }
    this.draining = undefined;
  }

  /** The batch as UTF-8 in the writer's buffer (grown when a batch needs more); returns its length. */
  private encode(batch: readonly string[]): number {
    let length = 0;
    for (const line of batch) {
      // three bytes per UTF-16 unit at most
      if (length + line.length * 3 > this.buffer.length) {
        const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, length + line.length * 3));
        this.buffer.copy(grown, 0, 0, length);
        this.buffer = grown;
      }
      length += this.buffer.write(line, length);
    }
    return length;
  }

  private async write(length: number): Promise<void> {
    const file = await open(this.path, 'a', 0o644);
    try {
      for (let written = 0; written < length; )
        written += (await file.write(this.buffer, written, length - written)).bytesWritten;
    } finally {
      await file.close();
    }
  }
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
