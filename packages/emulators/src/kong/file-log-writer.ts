import { closeSync, openSync, statSync, writeSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';

// file-log's writer: lines for one path go through a single ordered queue, so concurrent requests never
// interleave or drop a line. What arrives within BATCH_MS of a first line is appended together (Kong writes
// each line at once: here a line reaches the file at most BATCH_MS after its response closed, which a reader
// polling the log cannot tell apart); flush() resolves once every queued line is on disk. Each batch opens
// the file afresh (O_APPEND), as Kong's `reopen: true` does, so log rotation loses nothing.
// To a regular file the writes are synchronous, as file-log's are in an nginx worker (ffi open/write/close):
// three syscalls per batch cost far less than three round trips through libuv's thread pool. Anything else
// (a FIFO, /dev/stdout on a pipe) can block for as long as its reader wants, so it is written asynchronously:
// a stuck reader then holds up only the log, and the emulator still answers requests and signals. What the
// path is, is looked up at the first batch and again after a batch fails (the path was replaced, say).

/** How long the first line of a batch waits for others. */
export const BATCH_MS = 10;

export class FileLogWriter {
  private pending: string[] = [];
  private draining: Promise<void> | undefined;
  private regular: boolean | undefined;
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
        this.regular ??= this.regularFile();
        if (this.regular) this.writeNow(batch.join(''));
        else await appendFile(this.path, batch.join(''));
      } catch (error) {
        this.regular = undefined;
        // Kong logs each failure to its error log; once per path is enough to show the cause here
        if (this.lastError === undefined)
          console.error(`kong emulator: file-log cannot write to ${this.path}: ${(error as Error).message}`);
        this.failedLines += batch.length;
        this.lastError = error as Error;
      }
    }
    this.draining = undefined;
  }

  /** Whether the path is a regular file, or nothing yet (open then creates one). */
  private regularFile(): boolean {
    try {
      return statSync(this.path).isFile();
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'ENOENT';
    }
  }

  private writeNow(text: string): void {
    const fd = openSync(this.path, 'a', 0o644);
    try {
      const data = Buffer.from(text);
      for (let written = 0; written < data.length; )
        written += writeSync(fd, data, written, data.length - written);
    } finally {
      closeSync(fd);
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
