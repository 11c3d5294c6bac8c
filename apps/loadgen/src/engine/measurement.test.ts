import { afterEach, describe, expect, it } from 'vitest';
import { measure, workerPart } from './measurement.js';
import { startTestServer, type TestServer } from './test-servers.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('measure', () => {
  it('splits the schedule over worker threads and merges their histograms into one result', async () => {
    server = await startTestServer({ serviceTimeMs: 5 });
    const result = await measure({
      model: { kind: 'open', schedule: { kind: 'constant', rate: 100 }, maxInFlight: 120 }, // no drops: this test is about the split
      transport: {
        kind: 'rest',
        url: server.url,
        body: new TextEncoder().encode('[1]'),
        connections: 4,
        timeoutMs: 5_000,
        tokens: null,
      },
      warmupMs: 200,
      durationMs: 1_000,
      windowMs: 500,
      lateThresholdMs: 5,
      workers: 2,
    });
    // 120 arrivals in 1.2 s; the 20 of the warm-up are sent and left out of the figures
    expect(server.received()).toBe(120);
    expect(result.recorder.completed).toBe(100);
    expect(result.recorder.fromIntended.totalCount).toBe(100);
    expect([...result.recorder.windows.values()].map((window) => window.requests)).toEqual([50, 50]);
  });

  it('divides a closed loop concurrency between workers without losing a user', () => {
    const parts = [0, 1, 2].map((share) => workerPart({ kind: 'closed', concurrency: 8 }, share, 3));
    expect(parts).toEqual([
      { kind: 'closed', concurrency: 3 },
      { kind: 'closed', concurrency: 3 },
      { kind: 'closed', concurrency: 2 },
    ]);
  });
});
