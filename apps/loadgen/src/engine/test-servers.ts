import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

// Loopback servers with a known behaviour, for the accuracy tests and the bench: a fixed service time, and
// the same with one stall (every answer held back for a while, once).

export interface TestServer {
  url: string;
  /** Requests the server received. */
  received(): number;
  /**
   * What each answer took on the server's own clock, from the request's arrival to the answer written: the
   * ground truth a client's figures are held to (the timer behind the service time fires late on a busy
   * machine, and that delay is the server's, not the client's).
   */
  serviceTimesMs(): number[];
  close(): Promise<void>;
}

export interface TestServerOptions {
  serviceTimeMs: number;
  /** Once `stall.afterMs` have passed since the first request, hold every answer until `stall.forMs` later. */
  stall?: { afterMs: number; forMs: number };
}

export async function startTestServer(options: TestServerOptions): Promise<TestServer> {
  let received = 0;
  let firstAt: number | undefined;
  const serviceTimes: number[] = [];
  const server: Server = createServer((request, response) => {
    received++;
    const now = performance.now();
    firstAt ??= now;
    request.resume();
    request.once('end', () => {
      let delay = options.serviceTimeMs;
      if (options.stall) {
        const stallStart = (firstAt ?? now) + options.stall.afterMs;
        const stallEnd = stallStart + options.stall.forMs;
        const doneAt = now + delay;
        if (doneAt >= stallStart && now < stallEnd) delay = Math.max(delay, stallEnd - now);
      }
      setTimeout(() => {
        response.end('{"predictions": [2.5]}');
        serviceTimes.push(performance.now() - now);
      }, delay);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1/models/half_plus_two:predict`,
    received: () => received,
    serviceTimesMs: () => [...serviceTimes],
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
