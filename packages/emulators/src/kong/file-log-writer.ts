import { constants } from 'node:fs';
import { type FileHandle, open, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

// file-log's writer: lines for one path go through a single ordered queue, so concurrent requests never
// interleave or drop a line. What arrives within BATCH_MS of a first line is appended together (Kong writes
// each line at once: here a line reaches the file at most BATCH_MS after its response closed, which a reader
// polling the log cannot tell apart); flush() resolves once every queued line is on disk. Each batch opens
// the file afresh (O_APPEND), as Kong's `reopen: true` does, so log rotation loses nothing.
// A line is encoded into the batch's buffer as it comes (a line kept as a string until its batch is written
// would outlive a young-generation collection or two, and be copied and promoted: that cost more than the
// rest of file-log together); two buffers, one filling while the other is written, are kept from batch to
// batch, and the writes go through libuv's thread pool: the kernel's copy, the larger part of a line's cost, runs beside
// the event loop, not on it, where nginx's blocking write holds only its own worker.
// A FIFO nobody reads yet, or a pipe whose reader is slow: Kong's worker blocks in open() or write() until the
// reader comes or catches up. Here the file is opened non-blocking, and a FIFO without a reader (ENXIO) or a
// full pipe (EAGAIN) is tried again every RETRY_MS, so no thread of the pool (four by default, shared with the
// DNS lookups the proxy makes) is held; the emulator goes on answering, and the lines wait in memory, up to
// maxPendingBytes: past that a line is dropped and counted in failedLines, and said once until a batch is
// written, rather than let a log nobody reads take the process's memory (the batch being written is held
// beside them).

/** How long the first line of a batch waits for others. */
export const BATCH_MS = 10;
/** How long a batch waits before trying again a FIFO without a reader or a pipe that is full. */
export const RETRY_MS = 10;
/** The size each buffer starts with, and goes back to after a batch larger than KEPT_BUFFER_BYTES. */
export const INITIAL_BUFFER_BYTES = 64 * 1024;
/** A buffer grown past this for a burst is not kept once its batch is written. */
export const KEPT_BUFFER_BYTES = 1024 * 1024;
/** Bytes of lines that may wait for their batch; a line that would go past is dropped (and counted). */
export const MAX_PENDING_BYTES = 64 * 1024 * 1024;

/** How the writer opens its file for each batch (the test's stand-in for a disk that fills up). */
export type OpenForAppend = (path: string) => Promise<Pick<FileHandle, 'write' | 'close'>>;

const APPEND_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | constants.O_NONBLOCK;

const openForAppend: OpenForAppend = (path) => open(path, APPEND_FLAGS, 0o644);

/** What a reader ends: a FIFO that has none yet (ENXIO at open), a pipe or FIFO that is full (EAGAIN at write). */
const WAIT_FOR_READER = new Set(['ENXIO', 'EAGAIN', 'EWOULDBLOCK']);

export interface FileLogWriterOptions {
  openFile?: OpenForAppend;
  /** MAX_PENDING_BYTES unless set (tests set less). */
  maxPendingBytes?: number;
}

export class FileLogWriter {
  /** The batch being filled: lines are encoded as they come, so no line outlives its request as a string. */
  private filling = Buffer.allocUnsafe(INITIAL_BUFFER_BYTES);
  private length = 0;
  private lines = 0;
  /** The buffer of the batch being written, filled again once that write is done. */
  private spare = Buffer.allocUnsafe(INITIAL_BUFFER_BYTES);
  private draining: Promise<void> | undefined;
  private readonly openFile: OpenForAppend;
  private readonly maxPendingBytes: number;
  /** Whether lines were dropped since the last batch was taken out (said once for each such time). */
  private dropping = false;
  /** Whether a failed write was said (once per path is enough to show the cause). */
  private toldWriteFailure = false;
  /** Lines that could not be written (the directory is missing, no permission, dropped), and the last error. */
  failedLines = 0;
  lastError: Error | undefined;

  constructor(
    readonly path: string,
    options: FileLogWriterOptions = {},
  ) {
    this.openFile = options.openFile ?? openForAppend;
    this.maxPendingBytes = options.maxPendingBytes ?? MAX_PENDING_BYTES;
  }

  /** The bytes this writer holds in its two buffers (what a burst grew them to, until it is written). */
  get bufferedCapacity(): number {
    return this.filling.length + this.spare.length;
  }

  /** Queues one line (its newline is added), or drops it when maxPendingBytes already wait. */
  append(line: string): void {
    // three bytes per UTF-16 unit at most, and the newline
    if (!this.reserve(line.length * 3 + 1)) return;
    this.length += this.filling.write(line, this.length);
    this.queued();
  }

  /**
   * Queues one line made of an object's JSON (one member at least) and, when given, members that end it in
   * place of its closing brace: `moreMembers`, then `lastMembers` (`,"name":value…}`, the brace included),
   * UTF-8 already: copied, not encoded again. Its newline is added.
   */
  appendObject(json: string, moreMembers?: Buffer, lastMembers?: Buffer): void {
    const members = (moreMembers?.length ?? 0) + (lastMembers?.length ?? 0);
    if (!this.reserve(json.length * 3 + members + 1)) return;
    this.length += this.filling.write(json, this.length);
    if (members > 0) this.length--; // the closing brace, replaced
    if (moreMembers) this.length += moreMembers.copy(this.filling, this.length);
    if (lastMembers) this.length += lastMembers.copy(this.filling, this.length);
    this.queued();
  }

  /** Room for `most` more bytes in the batch being filled, or false (the line dropped) past maxPendingBytes. */
  private reserve(most: number): boolean {
    // a line alone always goes in, however long
    if (this.length + most > this.maxPendingBytes && this.length > 0) {
      this.drop();
      return false;
    }
    if (this.length + most > this.filling.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.filling.length * 2, this.length + most));
      this.filling.copy(grown, 0, 0, this.length);
      this.filling = grown;
    }
    return true;
  }

  /** Ends the line just encoded and sees that its batch gets written. */
  private queued(): void {
    this.filling[this.length++] = 0x0a;
    this.lines++;
    this.draining ??= this.drain();
  }

  /** Resolves when every line appended so far has been written (or has failed). */
  async flush(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private drop(): void {
    this.failedLines++;
    if (this.dropping) return;
    this.dropping = true;
    this.lastError = new Error(
      `${this.length} bytes of lines already wait to be written (a FIFO nobody reads, or a reader too slow)`,
    );
    console.error(`kong emulator: file-log drops lines for ${this.path}: ${this.lastError.message}`);
  }

  private async drain(): Promise<void> {
    while (this.lines > 0) {
      await sleep(BATCH_MS); // the lines that come meanwhile join
      const batch = this.filling;
      const { length, lines } = this;
      this.filling = this.spare;
      this.spare = batch;
      this.length = 0;
      this.lines = 0;
      this.dropping = false; // room again: a later drop is said anew
      const progress = { written: 0 };
      try {
        await this.write(batch, length, progress);
      } catch (error) {
        // Kong logs each failure to its error log; once per path is enough to show the cause here
        if (!this.toldWriteFailure)
          console.error(`kong emulator: file-log cannot write to ${this.path}: ${(error as Error).message}`);
        // the lines whose newline did not reach the file (a disk that filled up mid-batch kept the rest)
        this.failedLines += progress.written === 0 ? lines : newlines(batch, progress.written, length);
        this.lastError = error as Error;
        this.toldWriteFailure = true;
      }
      // a burst grew this buffer: let it go rather than hold its size for good
      if (this.spare.length > KEPT_BUFFER_BYTES) this.spare = Buffer.allocUnsafe(INITIAL_BUFFER_BYTES);
    }
    this.draining = undefined;
  }

  private async write(data: Buffer, length: number, progress: { written: number }): Promise<void> {
    const file = await this.openWhenRead();
    try {
      while (progress.written < length) {
        let taken = 0;
        try {
          taken = (await file.write(data, progress.written, length - progress.written)).bytesWritten;
        } catch (error) {
          if (!WAIT_FOR_READER.has((error as NodeJS.ErrnoException).code ?? '')) throw error;
        }
        progress.written += taken;
        // a full pipe (or a write that took nothing) waits for its reader rather than spin
        if (taken === 0) await sleep(RETRY_MS);
      }
    } finally {
      await file.close();
    }
  }

  /** Opens the file, waiting for a reader where it is a FIFO that has none yet (as Kong's open() blocks). */
  private async openWhenRead(): Promise<Pick<FileHandle, 'write' | 'close'>> {
    let told = false;
    for (;;) {
      try {
        return await this.openFile(this.path);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? '';
        if (!WAIT_FOR_READER.has(code)) throw error;
        // ENXIO is also a socket or a device that is not there: only a FIFO gets a reader by waiting
        if (code === 'ENXIO' && !(await stat(this.path).catch(() => undefined))?.isFIFO()) throw error;
        if (!told) console.error(`kong emulator: file-log waits for a reader of the FIFO ${this.path}`);
        told = true;
      }
      await sleep(RETRY_MS);
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

  /** Each path that lost lines: how many, and the last cause. */
  losses(): { path: string; lines: number; error: Error | undefined }[] {
    return [...this.writers.values()]
      .filter((writer) => writer.failedLines > 0)
      .map((writer) => ({ path: writer.path, lines: writer.failedLines, error: writer.lastError }));
  }
}
