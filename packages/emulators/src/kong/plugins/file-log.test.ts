import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CORRELATION_HEADER, type GatewayConfig } from '@modelgate/policy';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { eventually } from '../../testing/eventually.js';
import { ManualClock } from '../kong-clock.js';
import { KongEmulator } from '../kong-emulator.js';
import { grpcCall } from '../testing/grpc-call.js';
import { getWithHeaderArray } from '../testing/header-array-request.js';
import { localGatewayConfig } from '../testing/local-gateway.js';
import { predictFrame } from '../testing/predict-frame.js';
import { mintToken } from '../testing/tokens.js';
import { startEchoUpstream, startRawGrpcUpstream, type TestUpstream } from '../testing/upstreams.js';

// file-log end to end: one JSON line per request in kong.log.serialize()'s shape, refused or proxied, none
// lost under concurrent load or at shutdown.

const PLUGINS = ['bundled', 'modelgate-model-access'];
const EPOCH_SECONDS = 1_800_000_000;
const PREDICT = '/tensorflow.serving.PredictionService/Predict';

let rest: TestUpstream;
let grpc: TestUpstream;
let dir: string;
let logPath: string;
let config: GatewayConfig;
let kong: KongEmulator;
const clock = new ManualClock(EPOCH_SECONDS * 1000);

const token = (clientId: string) => mintToken(clientId, { issuedAt: Math.floor(clock.now() / 1000) });

/** The generated config with file-log writing to `path`. */
function withLogPath(base: GatewayConfig, path: string): GatewayConfig {
  const copy = structuredClone(base);
  for (const plugin of copy.plugins ?? []) {
    if (plugin.name === 'file-log') (plugin.config as { path: string }).path = path;
  }
  return copy;
}

/** The complete lines of the log: a batch being written may show a last line in part, as any appender's may. */
async function logLines(path: string): Promise<Record<string, unknown>[]> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text
    .slice(0, text.lastIndexOf('\n') + 1)
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

beforeAll(async () => {
  rest = await startEchoUpstream({ responseHeaders: ['Set-Cookie', 'a=1', 'Set-Cookie', 'b=2'] });
  grpc = await startRawGrpcUpstream();
  dir = await mkdtemp(join(tmpdir(), 'kong-file-log-'));
  logPath = join(dir, 'audit.log');
  config = withLogPath(localGatewayConfig({ restPort: rest.port, grpcPort: grpc.port }), logPath);
  kong = await KongEmulator.start({ config, plugins: PLUGINS, clock });
});

afterAll(async () => {
  await kong?.stop();
  await rest?.close();
  await grpc?.close();
  await rm(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  clock.set((Math.floor(clock.now() / 60_000) + 2) * 60_000);
  await kong.flushLogs();
  await rm(logPath, { force: true });
});

describe('file-log', () => {
  it("writes a proxied request in Kong's serialize shape, authorization redacted, with the model and version", async () => {
    const response = await fetch(
      `${kong.proxyUrl()}/v1/models/classifier/versions/2:predict?debug=1&x&constructor=c`,
      {
        method: 'POST',
        headers: {
          authorization: `Bearer ${await token('classifier-app')}`,
          'content-type': 'application/json',
        },
        body: '{"instances":[1]}',
      },
    );
    expect(response.status).toBe(200);
    await response.text();
    const correlationId = response.headers.get(CORRELATION_HEADER);
    expect(correlationId).toMatch(/^[0-9a-f-]{36}#\d+$/);
    expect(rest.requests.at(-1)?.headers[CORRELATION_HEADER.toLowerCase()]).toBe(correlationId);
    await kong.flushLogs();
    // once flushed, nothing is left half written
    expect(await readFile(logPath, 'utf8')).toMatch(/\n$/);
    const [line, ...others] = await logLines(logPath);
    expect(others).toEqual([]);
    const consumer = kong.configuration.consumers.find((c) => c.username === 'classifier-app');
    const credential = kong.configuration.jwt_secrets.find((c) => c.key === 'classifier-app');
    expect(line).toMatchObject({
      request: {
        id: response.headers.get('x-kong-request-id'),
        uri: '/v1/models/classifier/versions/2:predict?debug=1&x&constructor=c',
        url: `${kong.proxyUrl()}/v1/models/classifier/versions/2:predict?debug=1&x&constructor=c`,
        querystring: { debug: '1', x: true, constructor: 'c' },
        method: 'POST',
        headers: { authorization: 'REDACTED', 'content-type': 'application/json' },
      },
      upstream_uri: '/v1/models/classifier/versions/2:predict?debug=1&x&constructor=c', // the args as sent
      upstream_status: '200',
      response: { status: 200 },
      tries: [{ ip: '127.0.0.1', port: rest.port }],
      // log.lua reads credential.consumer_id, which jwt's credentials lack
      authenticated_entity: { id: credential?.id },
      consumer: { id: consumer?.id, username: 'classifier-app' },
      route: { name: 'rest-classifier' },
      service: { name: 'tf-serving-rest' },
      client_ip: '127.0.0.1',
      started_at: clock.now(),
      source: 'upstream',
      workspace_name: 'default',
      model: 'classifier',
      model_version: '2',
      // the id the correlation-id plugin made, as echoed to the client and sent upstream
      correlation_id: correlationId,
    });
    const entry = line as {
      request: { size: number; headers: Record<string, unknown> };
      response: { size: number; headers: Record<string, unknown> };
      latencies: Record<string, number>;
      workspace: string;
    };
    expect(JSON.stringify(entry)).not.toContain('Bearer');
    expect(entry.request.size).toBeGreaterThan('{"instances":[1]}'.length);
    expect(entry.response.size).toBeGreaterThan(0);
    expect(entry.response.headers['x-upstream']).toBe('echo');
    // what nginx keeps outside its header list, as ngx.resp.get_headers adds it: the upstream answered without a
    // Content-Length, so the answer went out chunked
    expect(entry.response.headers).toMatchObject({
      connection: 'keep-alive',
      'transfer-encoding': 'chunked',
    });
    expect(Object.keys(entry.latencies).sort()).toEqual(['kong', 'proxy', 'receive', 'request']);
    expect(entry.latencies.proxy).toBeGreaterThanOrEqual(0);
    expect(entry.workspace).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('logs the connection as the client left it, and no transfer-encoding for an answer of known length', async () => {
    const closing = await getWithHeaderArray(`${kong.proxyUrl()}/v1/models/classifier`, [
      'Connection',
      'close',
    ]);
    expect(closing.status).toBe(401);
    await kong.flushLogs();
    const [line] = await logLines(logPath);
    const headers = (line as { response: { headers: Record<string, unknown> } }).response.headers;
    expect(headers).toMatchObject({ connection: 'close', 'content-length': expect.any(String) });
    expect(headers).not.toHaveProperty('transfer-encoding');
  });

  it('logs close for an HTTP/1.0 keep-alive request whose answer has no length, as node and nginx close it', async () => {
    const { port } = new URL(kong.proxyUrl());
    const authorization = `Bearer ${await token('ops-console')}`;
    const head = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () => {
        socket.write(
          `GET /v1/models/classifier HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\nAuthorization: ${authorization}\r\n\r\n`,
        );
      });
      let received = '';
      socket.on('data', (chunk: Buffer) => {
        received += chunk.toString('latin1');
      });
      // the upstream streamed its answer: an HTTP/1.0 client can only get it ended by the connection's close
      socket.on('end', () => resolve(received.slice(0, received.indexOf('\r\n\r\n'))));
      socket.on('error', reject);
    });
    expect(head).toMatch(/^HTTP\/1\.1 200 /);
    expect(head).toMatch(/\r\nconnection: close/i);
    await kong.flushLogs();
    const [line] = await logLines(logPath);
    const headers = (line as { response: { headers: Record<string, unknown> } }).response.headers;
    expect(headers.connection).toBe('close');
    expect(headers).not.toHaveProperty('transfer-encoding');
  });

  it("builds request.url of nginx's $host, as it sends X-Forwarded-Host: lower-cased, no port, no trailing dot", async () => {
    const { port } = new URL(kong.proxyUrl());
    const authorization = `Bearer ${await token('ops-console')}`;
    const status = await new Promise<number>((resolve, reject) => {
      const call = httpRequest(
        {
          host: '127.0.0.1',
          port,
          path: '/v1/models/classifier?x=1',
          headers: { host: 'GW.Example.:8000', authorization },
        },
        (response) => {
          response.resume();
          response.on('end', () => resolve(response.statusCode ?? 0));
        },
      );
      call.on('error', reject);
      call.end();
    });
    expect(status).toBe(200);
    expect(rest.requests.at(-1)?.headers['x-forwarded-host']).toBe('gw.example');
    await kong.flushLogs();
    const [line] = await logLines(logPath);
    expect(line).toMatchObject({
      request: {
        url: `http://gw.example:${port}/v1/models/classifier?x=1`,
        headers: { host: 'GW.Example.:8000' },
      },
    });
  });

  it('logs a repeated header as an array both ways, as kong.request.get_headers and ngx.resp.get_headers do', async () => {
    const authorization = `Bearer ${await token('classifier-app')}`;
    // a header array goes out as written: the two X-Trace lines stay two
    const { status } = await getWithHeaderArray(`${kong.proxyUrl()}/v1/models/classifier`, [
      'Authorization',
      authorization,
      'X-Trace',
      'one',
      'X-Trace',
      'two',
      // names an object literal already has (Object.prototype's): each is a header like any other
      'Constructor',
      'c',
      '__proto__',
      'p',
      'toString',
      't',
    ]);
    expect(status).toBe(200);
    await kong.flushLogs();
    const [line] = await logLines(logPath);
    expect(line).toMatchObject({
      request: {
        headers: {
          'x-trace': ['one', 'two'],
          authorization: 'REDACTED',
          constructor: 'c',
          tostring: 't',
        },
      },
      response: { headers: { 'set-cookie': ['a=1', 'b=2'] } },
    });
    const { headers } = (line as { request: { headers: object } }).request;
    expect(Object.getOwnPropertyDescriptor(headers, '__proto__')?.value).toBe('p');
  });

  it('writes a refused request that matched a route with its upstream_uri, tries [], upstream_status "", proxy latency -1', async () => {
    const response = await fetch(`${kong.proxyUrl()}/v1/models/classifier`, {
      headers: { authorization: 'Bearer not.a.token', 'proxy-authorization': 'Basic eA==' },
    });
    expect(response.status).toBe(401);
    await response.text();
    await kong.flushLogs();
    const [line] = await logLines(logPath);
    expect(line).toMatchObject({
      request: { headers: { authorization: 'REDACTED', 'proxy-authorization': 'REDACTED' } },
      response: { status: 401 },
      source: 'kong',
      upstream_uri: '/v1/models/classifier',
      upstream_status: '',
      tries: [],
      latencies: { proxy: -1 },
      route: { name: 'rest-classifier' },
    });
    expect(line).not.toHaveProperty('consumer');
    expect(line).not.toHaveProperty('authenticated_entity');
  });

  it('writes exactly one line for each of N concurrent requests, allowed and refused, over HTTP and gRPC', async () => {
    const allowed = await token('ops-console');
    const limited = await token('classifier-app');
    const calls: Promise<{ status: number; id: string }>[] = [];
    const restCall = (path: string, authorization?: string) =>
      fetch(`${kong.proxyUrl()}${path}`, authorization ? { headers: { authorization } } : {}).then(
        async (response) => {
          await response.arrayBuffer();
          return { status: response.status, id: response.headers.get('x-kong-request-id') ?? '' };
        },
      );
    const rpc = (model: string, authorization: string) =>
      grpcCall(kong.grpcAddress(), PREDICT, predictFrame(model), { authorization }).then((answer) => ({
        status: Number(answer.headers[':status']),
        id: String(answer.headers['x-kong-request-id']),
      }));
    for (let i = 0; i < 30; i++) calls.push(restCall('/v1/models/classifier', `Bearer ${allowed}`));
    for (let i = 0; i < 10; i++) calls.push(rpc('convnet', `Bearer ${allowed}`));
    for (let i = 0; i < 10; i++) calls.push(restCall('/v1/models/classifier')); // 401
    for (let i = 0; i < 10; i++) calls.push(restCall('/v1/models/convnet', `Bearer ${limited}`)); // 403
    for (let i = 0; i < 10; i++) calls.push(rpc('convnet', `Bearer ${limited}`)); // 403
    for (let i = 0; i < 10; i++) calls.push(restCall('/nowhere')); // 404
    const answers = await Promise.all(calls);
    await kong.flushLogs();
    const lines = await logLines(logPath);
    expect(lines).toHaveLength(answers.length);
    const statuses = (list: number[]) =>
      list.reduce<Record<number, number>>((counts, status) => {
        counts[status] = (counts[status] ?? 0) + 1;
        return counts;
      }, {});
    expect(statuses(answers.map((answer) => answer.status))).toEqual({ 200: 40, 401: 10, 403: 20, 404: 10 });
    expect(statuses(lines.map((line) => (line.response as { status: number }).status))).toEqual(
      statuses(answers.map((answer) => answer.status)),
    );
    const ids = lines.map((line) => (line.request as { id: string }).id);
    expect(new Set(ids).size).toBe(answers.length);
    expect(new Set(ids)).toEqual(new Set(answers.map((answer) => answer.id)));
    // a gRPC call has no Host header: nginx 1.25 makes one of :authority, and the log shows it
    const grpcLines = lines.filter((line) => (line.request as { uri: string }).uri === PREDICT);
    expect(grpcLines).toHaveLength(20);
    for (const line of grpcLines)
      expect((line.request as { headers: Record<string, unknown> }).headers.host).toBe(kong.grpcAddress());
  });

  it('writes the lines of a burst in a batch of its own accord, with nobody calling flushLogs()', async () => {
    const authorization = `Bearer ${await token('ops-console')}`;
    const answers = await Promise.all(
      Array.from({ length: 5 }, () =>
        fetch(`${kong.proxyUrl()}/v1/models/classifier`, { headers: { authorization } }).then(
          async (response) => {
            await response.arrayBuffer();
            return response.headers.get('x-kong-request-id');
          },
        ),
      ),
    );
    const ids = async () => (await logLines(logPath)).map((line) => (line.request as { id: string }).id);
    await eventually(async () => (await ids()).length === answers.length, 5);
    expect(new Set(await ids())).toEqual(new Set(answers));
  });

  it('writes a line with status 499 for a client that goes away in the middle of its body, never proxied', async () => {
    const { connect } = await import('node:net');
    const { port } = new URL(kong.proxyUrl());
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    rest.requests.length = 0;
    socket.write(
      `POST /v1/models/classifier:predict HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${await token('ops-console')}\r\nContent-Length: 100\r\n\r\n0123456789`,
    );
    // time for the access phase to pass, so the body is cut while the proxy buffers it for the upstream
    await new Promise((resolve) => setTimeout(resolve, 100));
    socket.destroy();
    // the emulator reads the request in its own time: wait for its line, however long that takes
    await eventually(async () => {
      await kong.flushLogs();
      return (await logLines(logPath)).length > 0;
    });
    const [line, ...others] = await logLines(logPath);
    expect(others).toEqual([]);
    expect(line).toMatchObject({
      request: { method: 'POST', size: expect.any(Number) },
      response: { status: 499 },
      source: 'kong',
      consumer: { username: 'ops-console' },
      // the body was still being buffered: the balancer never ran, so no try and no wait for an upstream
      tries: [],
      latencies: { proxy: -1 },
      upstream_status: '',
    });
    expect(rest.requests).toEqual([]);
  });

  it('writes every line of the requests answered before stop(), and of those cut by it', async () => {
    const path = join(dir, 'shutdown.log');
    const slow = await startEchoUpstream();
    let reached = 0;
    const hanging = await import('node:http').then(({ createServer }) =>
      createServer(() => {
        reached++; // never answers: the request is in flight when the emulator stops
      }),
    );
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    const hangingPort = (hanging.address() as { port: number }).port;
    const own = await KongEmulator.start({
      config: withLogPath(localGatewayConfig({ restPort: slow.port, grpcPort: grpc.port }), path),
      plugins: PLUGINS,
      clock,
    });
    const authorization = `Bearer ${await token('ops-console')}`;
    const answered = await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        fetch(`${own.proxyUrl()}/v1/models/${i % 2 ? 'classifier' : 'nowhere'}`, {
          headers: { authorization },
        }).then((response) => response.arrayBuffer()),
      ),
    );
    own.replaceConfig(withLogPath(localGatewayConfig({ restPort: hangingPort, grpcPort: grpc.port }), path));
    const cut = Array.from({ length: 5 }, () =>
      fetch(`${own.proxyUrl()}/v1/models/classifier`, { headers: { authorization } }).catch(
        (error: unknown) => error,
      ),
    );
    await eventually(async () => reached === 5); // the 5 are at the hanging upstream
    await own.stop(); // no flushLogs() first: stop() itself must write them all
    await Promise.all(cut);
    const lines = await logLines(path);
    expect(lines).toHaveLength(answered.length + cut.length);
    expect(lines.filter((line) => (line.response as { status: number }).status === 499)).toHaveLength(5);
    hanging.closeAllConnections();
    await new Promise((resolve) => hanging.close(resolve));
    await slow.close();
  });

  it('says at stop() how many lines a path lost, and why', async () => {
    const path = join(dir, 'no-such-folder', 'audit.log');
    const own = await KongEmulator.start({
      config: withLogPath(localGatewayConfig({ restPort: rest.port, grpcPort: grpc.port }), path),
      plugins: PLUGINS,
      clock,
    });
    const errors: string[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => errors.push(args.map(String).join(' '));
    try {
      for (let i = 0; i < 3; i++) await (await fetch(`${own.proxyUrl()}/v1/models/nowhere`)).arrayBuffer();
      await own.stop();
    } finally {
      console.error = original;
    }
    expect(errors.filter((line) => line.includes('cannot write to'))).toHaveLength(1);
    const summary = errors.filter((line) => line.includes('file-log lost'));
    expect(summary).toHaveLength(1);
    expect(summary[0]).toContain(`file-log lost 3 lines for ${path} (last: ENOENT`);
  });
});
