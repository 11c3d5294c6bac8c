import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';

// A downstream request's body, read only when a phase needs it (nginx reads it in the access phase only when a
// plugin asks, kong.request.get_raw_body): a bounded prefix for the plugins that read it, the whole body for
// an upstream behind request buffering (kept in memory up to a threshold, then in a temp file, as nginx's
// client_body_temp), or a stream piped to the upstream with backpressure. A body the client cuts off is
// reported as RequestBodyAborted, so nothing incomplete is ever sent on.

/** Bodies up to this size stay in memory when buffered whole; larger ones go to a temp file. */
export const MEMORY_BUFFER_BYTES = 1024 * 1024;

export class RequestBodyAborted extends Error {
  constructor(received: number) {
    super(`the client closed the request after ${received} body bytes, before the body ended`);
    this.name = 'RequestBodyAborted';
  }
}

/** A whole body: in memory, or in a temp file that `release()` removes. */
export type BufferedBody =
  | { kind: 'memory'; data: Buffer }
  | { kind: 'file'; path: string; size: number; release(): Promise<void> };

export class RequestBody {
  private chunks: Buffer[] = [];
  private held = 0;
  private ended = false;
  private aborted = false;
  /** Body bytes received from the client so far (ngx.var.request_length's body part). */
  received = 0;
  private wake: (() => void) | undefined;
  private readonly onData = (chunk: Buffer) => {
    this.received += chunk.length;
    this.chunks.push(chunk);
    this.held += chunk.length;
    this.wake?.();
  };

  /** `declaredLength`: the request's Content-Length, kept when the body is streamed on. */
  constructor(
    private readonly source: Readable,
    readonly declaredLength?: string,
  ) {
    source.once('aborted', () => {
      if (!this.ended) this.aborted = true;
      this.wake?.();
    });
    source.once('end', () => {
      this.ended = true;
      this.wake?.();
    });
    source.once('close', () => {
      if (!this.ended) this.aborted = true;
      this.wake?.();
    });
    // an 'error' is followed by 'close'; the listener keeps it from being thrown
    source.on('error', () => {});
  }

  /** Whether the client sent the whole body (false also while it is still being read). */
  get complete(): boolean {
    return this.ended;
  }

  /** The first `limit + 1` bytes at most (all of them when the body is shorter); more is never held. */
  async prefix(limit: number): Promise<Buffer> {
    await this.fill(limit + 1);
    return this.held === 0 ? EMPTY : this.joined();
  }

  /** The whole body, held in memory up to `memoryBytes`, beyond that in a temp file (request buffering). */
  async buffered(memoryBytes = MEMORY_BUFFER_BYTES): Promise<BufferedBody> {
    await this.fill(memoryBytes + 1);
    if (this.ended) return { kind: 'memory', data: this.held === 0 ? EMPTY : this.joined() };
    return this.spill();
  }

  /** Sends what is held, then the rest as it comes, with backpressure; rejects if the client cuts it off. */
  pipeTo(destination: Writable): Promise<void> {
    for (const chunk of this.chunks) destination.write(chunk);
    this.chunks = [];
    this.held = 0;
    if (this.ended) {
      destination.end();
      return Promise.resolve();
    }
    if (this.aborted) return Promise.reject(new RequestBodyAborted(this.received));
    this.source.off('data', this.onData);
    return new Promise((resolve, reject) => {
      this.wake = () => {
        if (this.aborted) reject(new RequestBodyAborted(this.received));
      };
      this.source.on('data', (chunk: Buffer) => {
        this.received += chunk.length;
      });
      this.source.once('end', () => {
        destination.end();
        resolve();
      });
      this.source.pipe(destination, { end: false });
    });
  }

  /** Reads and drops the rest (a refused request's body), as nginx discards it. */
  discard(): void {
    this.chunks = [];
    this.held = 0;
    if (this.ended || this.aborted) return;
    this.source.on('data', this.onDiscarded);
    this.source.off('data', this.onData);
    this.source.resume();
  }

  private readonly onDiscarded = (chunk: Buffer) => {
    this.received += chunk.length;
  };

  private joined(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.held)];
    return this.chunks[0] as Buffer;
  }

  /** Reads until `bytes` are held or the body ends, then pauses the client (TCP / HTTP/2 flow control). */
  private async fill(bytes: number): Promise<void> {
    if (this.held >= bytes || this.ended) return;
    if (this.aborted) throw new RequestBodyAborted(this.received);
    if (this.source.listenerCount('data') === 0) this.source.on('data', this.onData);
    this.source.resume();
    try {
      while (this.held < bytes && !this.ended && !this.aborted) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
      }
    } finally {
      this.wake = undefined;
      if (!this.ended) this.source.pause();
    }
    if (this.aborted) throw new RequestBodyAborted(this.received);
  }

  private async spill(): Promise<BufferedBody> {
    const dir = await mkdtemp(join(tmpdir(), 'kong-client-body-'));
    const path = join(dir, 'body');
    const release = () => rm(dir, { recursive: true, force: true });
    const file = createWriteStream(path);
    try {
      await this.writeRest(file);
    } catch (error) {
      file.destroy();
      await release();
      throw error;
    }
    return { kind: 'file', path, size: this.received, release };
  }

  private writeRest(file: WriteStream): Promise<void> {
    for (const chunk of this.chunks) file.write(chunk);
    this.chunks = [];
    this.held = 0;
    this.source.off('data', this.onData);
    return new Promise((resolve, reject) => {
      const fail = (error: Error) => reject(error);
      file.once('error', fail);
      this.wake = () => {
        if (this.aborted) fail(new RequestBodyAborted(this.received));
      };
      this.source.on('data', (chunk: Buffer) => {
        this.received += chunk.length;
        if (!file.write(chunk)) {
          this.source.pause();
          file.once('drain', () => this.source.resume());
        }
      });
      this.source.once('end', () => file.end(() => resolve()));
      this.source.resume();
    });
  }
}

const EMPTY = Buffer.alloc(0);

/** A buffered body as a stream for the upstream request. */
export function bufferedBodyStream(body: BufferedBody & { kind: 'file' }): Readable {
  return createReadStream(body.path);
}
