import { appendFile } from 'node:fs/promises';

// file-log's writer: lines for one path go through a single ordered queue and are appended in batches, so
// concurrent requests never interleave or drop a line; flush() resolves once every queued line is on disk.
// Each batch opens the file afresh (O_APPEND), as Kong's `reopen: true` does, so log rotation loses nothing.

export class FileLogWriter {
  private pending: string[] = [];
  private draining: Promise<void> | undefined;
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
      const batch = this.pending;
      this.pending = [];
      try {
        await appendFile(this.path, batch.join(''));
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
