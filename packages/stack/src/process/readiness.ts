import { setTimeout as sleep } from 'node:timers/promises';

// Waiting for a service to be ready: poll until a check passes, the deadline passes, or the signal aborts.

/** A service that did not become ready in time, with what the last check saw. */
export class ReadinessTimeoutError extends Error {
  override readonly name = 'ReadinessTimeoutError';

  constructor(
    readonly service: string,
    readonly waitedMs: number,
    readonly lastSeen: string,
  ) {
    super(`${service} was not ready after ${Math.round(waitedMs / 1000)} s (last check: ${lastSeen})`);
  }
}

export interface WaitOptions {
  timeoutMs: number;
  intervalMs?: number;
  signal?: AbortSignal;
}

/**
 * Calls `check` until it returns true. A check returns a string to say why it is not ready yet; a thrown
 * error counts as not ready (a refused connection while the server starts).
 */
export async function waitUntilReady(
  service: string,
  check: () => Promise<true | string>,
  options: WaitOptions,
): Promise<void> {
  const started = performance.now();
  let lastSeen = 'no check ran';
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      const result = await check();
      if (result === true) return;
      lastSeen = result;
    } catch (error) {
      lastSeen =
        error instanceof Error
          ? error.cause instanceof Error
            ? error.cause.message
            : error.message
          : String(error);
    }
    const waited = performance.now() - started;
    if (waited >= options.timeoutMs) throw new ReadinessTimeoutError(service, waited, lastSeen);
    await sleep(options.intervalMs ?? 100, undefined, { signal: options.signal });
  }
}

/** A check that GETs a URL and wants a 2xx status (or `accept` to say so). */
export function httpCheck(
  url: string,
  accept: (response: Response, body: string) => boolean = (response) => response.ok,
): () => Promise<true | string> {
  return async () => {
    const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
    const body = await response.text();
    return accept(response, body) ? true : `${response.status} ${body.slice(0, 200)}`;
  };
}
