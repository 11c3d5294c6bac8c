import { createServer, request as httpRequest, type Server } from 'node:http';
import { createServer as createHttp2Server, type Http2Server, type ServerHttp2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { GatewayConfig } from '@modelgate/policy';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KongEmulator } from './kong-emulator.js';
import { grpcCall } from './testing/grpc-call.js';
import { localGatewayConfig } from './testing/local-gateway.js';
import { predictFrame } from './testing/predict-frame.js';
import { mintToken } from './testing/tokens.js';
import { refuseWithoutTe } from './testing/upstreams.js';

// Upstream failures as Kong answers them (kong/error_handlers.lua): a refused or reset connection is 502
// (gRPC: 13 with the upstream message), no answer within read_timeout is 504 (gRPC: 4), and the proxy serves
// again by itself as soon as the upstream is back, without a restart or a new config.

const PLUGINS = ['bundled', 'modelgate-model-access'];
const PREDICT = '/tensorflow.serving.PredictionService/Predict';
const BAD_UPSTREAM = 'An invalid response was received from the upstream server';
const TIMED_OUT = 'The upstream server is timing out';
const READ_TIMEOUT_MS = 300;

/** 'stall': the headers and part of the body, then nothing. */
type Behaviour = 'answer' | 'reset' | 'hang' | 'stall';

/** An upstream on a fixed port whose behaviour the test sets; both HTTP/1.1 and gRPC (h2c). */
interface FaultyUpstream {
  port: number;
  behaviour: Behaviour;
  close(): Promise<void>;
}

function listen(server: Server | Http2Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

async function restUpstream(port = 0): Promise<FaultyUpstream> {
  const upstream: FaultyUpstream = { port: 0, behaviour: 'answer', close: async () => {} };
  const server = createServer((request, response) => {
    request.resume();
    if (upstream.behaviour === 'reset') return request.socket.destroy();
    if (upstream.behaviour === 'hang') return;
    if (upstream.behaviour === 'stall') {
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      return void response.write('{"ok":');
    }
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end('{"ok":true}');
  });
  upstream.port = await listen(server, port);
  upstream.close = () =>
    new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return upstream;
}

async function grpcUpstream(port = 0): Promise<FaultyUpstream> {
  const upstream: FaultyUpstream = { port: 0, behaviour: 'answer', close: async () => {} };
  const server = createHttp2Server();
  const sessions = new Set<ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });
  server.on('stream', (stream, headers) => {
    if (refuseWithoutTe(stream, headers)) return;
    stream.resume();
    if (upstream.behaviour === 'reset') return stream.session?.destroy();
    if (upstream.behaviour === 'hang') return;
    if (upstream.behaviour === 'stall') {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
      return void stream.write(Buffer.from([0, 0, 0, 0, 9]));
    }
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(Buffer.from([0, 0, 0, 0, 0]));
    });
  });
  upstream.port = await listen(server, port);
  upstream.close = () =>
    new Promise((resolve) => {
      for (const session of sessions) session.destroy();
      server.close(() => resolve());
    });
  return upstream;
}

let rest: FaultyUpstream;
let grpc: FaultyUpstream;
let kong: KongEmulator;
let authorization: string;

function configFor(restPort: number, grpcPort: number, readTimeoutMs = 60_000): GatewayConfig {
  const config = localGatewayConfig({ restPort, grpcPort });
  for (const service of config.services ?? []) service.read_timeout = readTimeoutMs;
  return config;
}

/**
 * Runs `test` with the services' read_timeout at READ_TIMEOUT_MS; every other test keeps a long one, so a
 * machine too loaded to read an answer within 300 ms cannot turn a call that must succeed into a 504.
 */
async function withShortReadTimeout(test: () => Promise<void>): Promise<void> {
  kong.replaceConfig(configFor(rest.port, grpc.port, READ_TIMEOUT_MS));
  try {
    await test();
  } finally {
    kong.replaceConfig(configFor(rest.port, grpc.port));
  }
}

const restCall = () => fetch(`${kong.proxyUrl()}/v1/models/classifier`, { headers: { authorization } });
const grpcPredict = () =>
  grpcCall(kong.grpcAddress(), PREDICT, predictFrame('classifier'), { authorization });

beforeAll(async () => {
  rest = await restUpstream();
  grpc = await grpcUpstream();
  kong = await KongEmulator.start({ config: configFor(rest.port, grpc.port), plugins: PLUGINS });
  authorization = `Bearer ${await mintToken('ops-console', { issuedAt: Math.floor(Date.now() / 1000) })}`;
});

afterEach(() => {
  rest.behaviour = 'answer';
  grpc.behaviour = 'answer';
});

afterAll(async () => {
  await kong?.stop();
  await rest?.close();
  await grpc?.close();
});

describe('upstream failures over HTTP', () => {
  it('answers 502 with the error template when the upstream resets the connection, then serves again', async () => {
    rest.behaviour = 'reset';
    const refused = await restCall();
    expect(refused.status).toBe(502);
    expect(await refused.json()).toEqual({
      message: BAD_UPSTREAM,
      request_id: refused.headers.get('x-kong-request-id'),
    });
    rest.behaviour = 'answer';
    const served = await restCall();
    expect(served.status).toBe(200);
    expect(await served.json()).toEqual({ ok: true });
  });

  it("answers 504 when the upstream does not answer within the service's read_timeout", () =>
    withShortReadTimeout(async () => {
      rest.behaviour = 'hang';
      const started = performance.now();
      const response = await restCall();
      expect(response.status).toBe(504);
      expect(await response.json()).toEqual({
        message: TIMED_OUT,
        request_id: response.headers.get('x-kong-request-id'),
      });
      expect(performance.now() - started).toBeGreaterThanOrEqual(READ_TIMEOUT_MS - 20);
    }));

  it('cuts the answer when the upstream stalls after its headers for longer than read_timeout', () =>
    withShortReadTimeout(async () => {
      rest.behaviour = 'stall';
      const response = await restCall();
      expect(response.status).toBe(200);
      await expect(response.text()).rejects.toThrow();
    }));

  it('recovers by itself when a stopped upstream comes back on its port', async () => {
    const port = rest.port;
    await rest.close();
    const down = await restCall();
    expect(down.status).toBe(502);
    await down.text();
    rest = await restUpstream(port);
    const back = await restCall();
    expect(back.status).toBe(200);
    await back.text();
  });
});

/** GET on the REST route with Node's client, which sends no Accept unless told (fetch sends `*\/*`). */
function plainGet(headers: Record<string, string>): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const call = httpRequest(
      new URL('/v1/models/classifier', kong.proxyUrl()),
      { headers: { authorization, ...headers } },
      (response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => {
          body += chunk.toString();
        });
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, type: response.headers['content-type'] ?? '', body }),
        );
      },
    );
    call.on('error', reject);
    call.end();
  });
}

describe('the body of an upstream fault (kong/error_handlers.lua)', () => {
  it('is text/plain without Accept or Content-Type, else the type they name', async () => {
    rest.behaviour = 'reset';
    const plain = await plainGet({});
    expect(plain.status).toBe(502);
    expect(plain.type).toBe('text/plain; charset=utf-8');
    expect(plain.body).toMatch(new RegExp(`^${BAD_UPSTREAM}\\nrequest_id: [0-9a-f]{32}\\n$`));
    const json = await plainGet({ 'content-type': 'application/json' });
    expect(json.type).toBe('application/json; charset=utf-8');
    expect(JSON.parse(json.body).message).toBe(BAD_UPSTREAM);
    const html = await plainGet({ accept: 'text/html', 'content-type': 'application/json' });
    expect(html.type).toBe('text/html; charset=utf-8');
  });

  it('is 503 name resolution failed when the service host does not resolve, over HTTP and gRPC', async () => {
    const config = configFor(rest.port, grpc.port);
    for (const service of config.services ?? []) service.host = 'no-such-host.invalid';
    kong.replaceConfig(config);
    try {
      const response = await restCall();
      expect(response.status).toBe(503);
      expect(((await response.json()) as { message: string }).message).toBe('name resolution failed');
      const answer = await grpcPredict();
      expect(answer.headers[':status']).toBe(503);
      expect(answer.headers['grpc-status']).toBe('14');
      expect(answer.headers['grpc-message']).toBe('Unavailable');
    } finally {
      kong.replaceConfig(configFor(rest.port, grpc.port));
    }
  });
});

describe('upstream failures over gRPC', () => {
  it('answers 502 as grpc-status 13 with the upstream message when the upstream resets, then serves again', async () => {
    grpc.behaviour = 'reset';
    const refused = await grpcPredict();
    expect(refused.trailersOnly).toBe(true);
    expect(refused.headers[':status']).toBe(502);
    expect(refused.headers['grpc-status']).toBe('13');
    expect(refused.headers['grpc-message']).toBe(BAD_UPSTREAM);
    grpc.behaviour = 'answer';
    const served = await grpcPredict();
    expect(served.headers[':status']).toBe(200);
    expect(served.trailers['grpc-status']).toBe('0');
  });

  it('answers 504 as grpc-status 4 when the upstream does not answer within read_timeout', () =>
    withShortReadTimeout(async () => {
      grpc.behaviour = 'hang';
      const answer = await grpcPredict();
      expect(answer.headers[':status']).toBe(504);
      expect(answer.headers['grpc-status']).toBe('4');
      expect(answer.headers['grpc-message']).toBe(TIMED_OUT);
    }));

  it('resets the call when the upstream stalls after its headers for longer than read_timeout', () =>
    withShortReadTimeout(async () => {
      grpc.behaviour = 'stall';
      await expect(grpcPredict()).rejects.toThrow(/NGHTTP2_INTERNAL_ERROR|stream/i);
    }));

  it('recovers by itself when a stopped upstream comes back on its port', async () => {
    const port = grpc.port;
    await grpc.close();
    const down = await grpcPredict();
    expect(down.headers[':status']).toBe(502);
    expect(down.headers['grpc-status']).toBe('13');
    grpc = await grpcUpstream(port);
    const back = await grpcPredict();
    expect(back.headers[':status']).toBe(200);
    expect(back.trailers['grpc-status']).toBe('0');
  });
});
