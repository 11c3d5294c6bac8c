import { connect as connectHttp2 } from 'node:http2';
import { connect } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from './kong-clock.js';
import { KongEmulator } from './kong-emulator.js';
import { localGatewayConfig } from './testing/local-gateway.js';
import { mintToken } from './testing/tokens.js';
import { startEchoUpstream, type TestUpstream } from './testing/upstreams.js';

// Request paths exactly as a client may write them, sent raw (fetch and URL normalize them before they leave):
// HTTP/1.1 on a socket, and HTTP/2 with :path as written. Kong normalizes them with kong/tools/uri.lua before
// routing, sends the normalized path escaped upstream, and the client's args as they came.

const clock = new ManualClock(1_800_000_000_000);
let rest: TestUpstream;
let kong: KongEmulator;
let authorization: string;

beforeAll(async () => {
  rest = await startEchoUpstream();
  kong = await KongEmulator.start({
    config: localGatewayConfig({ restPort: rest.port, grpcPort: 1 }),
    plugins: ['bundled', 'modelgate-model-access'],
    clock,
  });
  authorization = `Bearer ${await mintToken('ops-console', { issuedAt: Math.floor(clock.now() / 1000) })}`;
});

afterAll(async () => {
  await kong?.stop();
  await rest?.close();
});

beforeEach(() => {
  rest.requests.length = 0;
});

/** GET `target` on a raw HTTP/1.1 socket; the status. */
async function rawHttp1(target: string): Promise<number> {
  const socket = connect(Number(new URL(kong.proxyUrl()).port), '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  let answer = '';
  socket.on('data', (data: Buffer) => {
    answer += data.toString('latin1');
  });
  socket.write(
    `GET ${target} HTTP/1.1\r\nHost: kong\r\nAuthorization: ${authorization}\r\nConnection: close\r\n\r\n`,
  );
  await new Promise((resolve) => socket.once('close', resolve));
  return Number(answer.slice(9, 12));
}

/** GET with `:path` as written over HTTP/2; the status. */
function rawHttp2(target: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const session = connectHttp2(`http://${kong.grpcAddress()}`);
    session.on('error', reject);
    const stream = session.request({ ':method': 'GET', ':path': target, authorization });
    stream.on('response', (headers) => {
      stream.resume();
      stream.on('end', () => {
        session.close();
        resolve(Number(headers[':status']));
      });
    });
    stream.on('error', reject);
    stream.end();
  });
}

const VARIANTS: [target: string, status: number, upstreamPath: string | null][] = [
  ['//foo/v1/models/classifier', 404, null],
  ['/v1/models//../classifier', 404, null],
  ['/v1/models/x/../classifier', 200, '/v1/models/classifier'],
  ['/v1/models/%2e%2E/models/classifier', 200, '/v1/models/classifier'],
  ['/v1/models/%63lassifier', 200, '/v1/models/classifier'],
  ['/v1/models/classifier?b=%20&a&&c=1+2', 200, '/v1/models/classifier?b=%20&a&&c=1+2'],
  ['/v1/models/classifier?', 200, '/v1/models/classifier?'],
];

describe.each([
  ['HTTP/1.1 on a socket', rawHttp1],
  ['HTTP/2 with :path as written', rawHttp2],
])('path variants over %s', (_, send) => {
  it.each(VARIANTS)('%s is %i, upstream %s', async (target, status, upstreamPath) => {
    expect(await send(target)).toBe(status);
    expect(rest.requests.map((request) => request.path)).toEqual(upstreamPath === null ? [] : [upstreamPath]);
  });
});
