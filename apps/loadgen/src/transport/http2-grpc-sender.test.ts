import { Server, ServerCredentials, status } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { grpcFrame, http2GrpcSender } from './http2-grpc-sender.js';

let server: Server | undefined;
afterEach(() => {
  server?.forceShutdown();
  server = undefined;
});

/** A grpc-js server whose Predict answers by the token: `good` OK, anything else UNAUTHENTICATED. */
async function predictServer(): Promise<{ address: string; bodies: Buffer[] }> {
  const bodies: Buffer[] = [];
  server = new Server();
  server.register(
    '/tensorflow.serving.PredictionService/Predict',
    (
      call: { request: Buffer; metadata: { get(key: string): unknown[] } },
      callback: (error: { code: number; details: string } | null, value?: Buffer) => void,
    ) => {
      bodies.push(call.request);
      if (call.metadata.get('authorization')[0] === 'Bearer good') callback(null, Buffer.from([8, 1]));
      else callback({ code: status.UNAUTHENTICATED, details: 'Unauthorized' });
    },
    (value: Buffer) => value,
    (bytes: Buffer) => bytes,
    'unary',
  );
  const port = await new Promise<number>((resolve, reject) =>
    server?.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  return { address: `127.0.0.1:${port}`, bodies };
}

describe('the lean HTTP/2 gRPC sender', () => {
  it('frames a message as gRPC does: flag, big-endian length, bytes', () => {
    expect([...grpcFrame(Uint8Array.of(7, 8, 9))]).toEqual([0, 0, 0, 0, 3, 7, 8, 9]);
  });

  it('sends the same bytes every time, reads grpc-status, and counts a bad token refused as expected', async () => {
    const { address, bodies } = await predictServer();
    const sender = http2GrpcSender({
      kind: 'grpc',
      address,
      body: Uint8Array.of(10, 2, 8, 1),
      channels: 2,
      timeoutMs: 5_000,
      tokens: { good: ['good'], bad: ['bad'], badShare: 0.5 },
    });
    const outcomes = [await sender.send(0), await sender.send(1), await sender.send(2)];
    await sender.close();
    expect(outcomes).toEqual([
      { ok: true },
      { ok: false, kind: 'grpc:UNAUTHENTICATED', expected: true },
      { ok: true },
    ]);
    expect(bodies.map((body) => [...body])).toEqual([
      [10, 2, 8, 1],
      [10, 2, 8, 1],
      [10, 2, 8, 1],
    ]);
  });

  it('reports a refused connection as a transport error, not a crash', async () => {
    const sender = http2GrpcSender({
      kind: 'grpc',
      address: '127.0.0.1:1',
      body: Uint8Array.of(1),
      channels: 1,
      timeoutMs: 2_000,
      tokens: null,
    });
    expect(await sender.send(0)).toEqual({ ok: false, kind: 'transport:ECONNREFUSED', expected: false });
    await sender.close();
  });
});
