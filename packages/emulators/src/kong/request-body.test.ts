import { createServer, request as httpRequest, type Server } from 'node:http';
import { connect as connectHttp2 } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from './kong-clock.js';
import { KongEmulator } from './kong-emulator.js';
import { localGatewayConfig } from './testing/local-gateway.js';
import { predictFrame } from './testing/predict-frame.js';
import { mintToken } from './testing/tokens.js';
import { startRawGrpcUpstream, type TestUpstream } from './testing/upstreams.js';

// Request and response bodies as Kong moves them: read only when a phase needs them, never whole in memory,
// a cut-off upload never passed on, and a slow reader slowing the upstream down instead of filling memory.

const PLUGINS = ['bundled', 'modelgate-model-access'];
const PREDICT = '/tensorflow.serving.PredictionService/Predict';
const MiB = 1024 * 1024;
const clock = new ManualClock(1_800_000_000_000);

/** What reached the REST upstream: headers and body length only (it keeps no body in memory). */
interface CountedRequest {
  headers: import('node:http').IncomingHttpHeaders;
  bodyBytes: number;
}

let counting: Server;
const restRequests: CountedRequest[] = [];
let grpc: TestUpstream;
let kong: KongEmulator;
const token = (clientId: string) => mintToken(clientId, { issuedAt: Math.floor(clock.now() / 1000) });

beforeAll(async () => {
  counting = createServer((request, response) => {
    let bodyBytes = 0;
    request.on('data', (chunk: Buffer) => {
      bodyBytes += chunk.length;
    });
    request.on('end', () => {
      restRequests.push({ headers: request.headers, bodyBytes });
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end('{}');
    });
  });
  await new Promise<void>((resolve) => counting.listen(0, '127.0.0.1', resolve));
  grpc = await startRawGrpcUpstream();
  kong = await KongEmulator.start({
    config: localGatewayConfig({ restPort: (counting.address() as AddressInfo).port, grpcPort: grpc.port }),
    plugins: PLUGINS,
    clock,
  });
});

afterAll(async () => {
  await kong?.stop();
  counting.closeAllConnections();
  await new Promise((resolve) => counting.close(resolve));
  await grpc?.close();
});

beforeEach(() => {
  restRequests.length = 0;
  grpc.requests.length = 0;
});

const settle = () => new Promise((resolve) => setTimeout(resolve, 100));

/**
 * Sends `total` bytes of body in 1 MiB writes on a raw socket (Node's client stops sending once an answer has
 * come), honouring backpressure; resolves with the answer's status once the whole body has gone out.
 */
async function upload(path: string, headers: Record<string, string>, total: number): Promise<number> {
  const socket = connect(Number(new URL(kong.proxyUrl()).port), '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  let answer = '';
  socket.on('data', (data: Buffer) => {
    answer += data.toString('latin1');
  });
  const head = Object.entries({ host: 'kong', ...headers, 'content-length': String(total) })
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  socket.write(`POST ${path} HTTP/1.1\r\n${head}\r\n`);
  const chunk = Buffer.alloc(MiB, 0x61);
  for (let sent = 0; sent < total; sent += chunk.length) {
    if (!socket.write(chunk)) await new Promise((resolve) => socket.once('drain', resolve));
  }
  while (!/^HTTP\/1\.1 \d{3}/.test(answer)) await new Promise((resolve) => socket.once('data', resolve));
  socket.destroy();
  return Number(answer.slice(9, 12));
}

describe('request bodies', () => {
  it('refuses a 200 MiB upload without a token from the access phase, RSS nearly flat', async () => {
    // a first upload brings the buffers and the garbage collector to their working level
    expect(await upload('/v1/models/classifier:predict', {}, 64 * MiB)).toBe(401);
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 5);
    try {
      const status = await upload('/v1/models/classifier:predict', {}, 200 * MiB);
      expect(status).toBe(401);
    } finally {
      clearInterval(sampler);
    }
    expect(restRequests).toEqual([]);
    // the whole body held in memory would add 200 MiB (400 with its concatenation); read and dropped, the
    // chunks are garbage that the collector reclaims at its own pace
    expect(peak - before).toBeLessThan(100 * MiB);
  });

  it('passes an admitted 64 MiB upload on whole, without holding it in memory', async () => {
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 5);
    try {
      const status = await upload(
        '/v1/models/classifier:predict',
        { authorization: `Bearer ${await token('ops-console')}` },
        64 * MiB,
      );
      expect(status).toBe(200);
    } finally {
      clearInterval(sampler);
    }
    expect(restRequests).toHaveLength(1);
    expect(restRequests[0]?.bodyBytes).toBe(64 * MiB);
    expect(restRequests[0]?.headers['content-length']).toBe(String(64 * MiB));
    expect(peak - before).toBeLessThan(48 * MiB);
  });

  it('never passes on an HTTP/1.1 upload the client cuts off (request buffering), and logs it as 499', async () => {
    const socket = connect(Number(new URL(kong.proxyUrl()).port), '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(
      `POST /v1/models/classifier:predict HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${await token('ops-console')}\r\nContent-Length: 100\r\n\r\n0123456789`,
    );
    await settle();
    socket.destroy();
    await settle();
    await kong.flushLogs();
    expect(restRequests).toEqual([]);
  });

  it('cancels a gRPC call upstream when the client cuts its body off: the upstream never sees it end', async () => {
    const session = connectHttp2(`http://${kong.grpcAddress()}`);
    const frame = predictFrame('classifier');
    // a frame header that promises more than is sent: the per-model plugin waits for the rest
    const header = Buffer.alloc(5);
    header.writeUInt32BE(frame.length - 5 + 1000, 1);
    const stream = session.request({
      ':method': 'POST',
      ':path': PREDICT,
      'content-type': 'application/grpc',
      te: 'trailers',
      authorization: `Bearer ${await token('ops-console')}`,
    });
    stream.on('error', () => {});
    stream.write(Buffer.concat([header, frame.subarray(5)]));
    await settle();
    stream.close();
    await settle();
    session.close();
    expect(grpc.requests).toEqual([]);
  });
});

describe('response bodies', () => {
  let big: Server;
  let written = 0;
  let own: KongEmulator;

  beforeAll(async () => {
    big = createServer((request, response) => {
      request.resume();
      response.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(MiB);
      const pump = () => {
        while (written < 64 * MiB) {
          written += chunk.length;
          if (!response.write(chunk)) return void response.once('drain', pump);
        }
        response.end();
      };
      pump();
    });
    await new Promise<void>((resolve) => big.listen(0, '127.0.0.1', resolve));
    own = await KongEmulator.start({
      config: localGatewayConfig({ restPort: (big.address() as AddressInfo).port, grpcPort: grpc.port }),
      plugins: PLUGINS,
      clock,
    });
  });

  afterAll(async () => {
    await own?.stop();
    big.closeAllConnections();
    await new Promise((resolve) => big.close(resolve));
  });

  it('slows the upstream down to a client that does not read, instead of buffering its answer', async () => {
    const authorization = `Bearer ${await token('ops-console')}`;
    const reader = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
      const call = httpRequest(new URL('/v1/models/classifier:predict', own.proxyUrl()), {
        method: 'POST',
        headers: { authorization, 'content-length': '2' },
      });
      call.on('response', (response) => {
        response.pause();
        resolve(response);
      });
      call.on('error', reject);
      call.end('{}');
    });
    // wait until the upstream cannot write any more (or has written everything)
    let last = -1;
    while (written !== last && written < 64 * MiB) {
      last = written;
      await settle();
    }
    expect(written).toBeLessThan(32 * MiB);
    let received = 0;
    reader.on('data', (chunk: Buffer) => {
      received += chunk.length;
    });
    reader.resume();
    await new Promise((resolve) => reader.once('end', resolve));
    expect(received).toBe(64 * MiB);
  });
});
