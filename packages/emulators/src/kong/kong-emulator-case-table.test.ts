import {
  checkJwt,
  DEFAULT_POLICY,
  DEFAULT_SECRETS,
  type GatewayConfig,
  jwtSetup,
  type ModelAccessCase,
  type ModelAccessCaseTable,
  type ModelAccessConfig,
  modelAccessCases,
} from '@modelgate/policy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from './kong-clock.js';
import { KongEmulator } from './kong-emulator.js';
import { isGrpcContentType } from './plugins/model-access-grpc-request.js';
import { RouteMatcher } from './route-matcher.js';
import { grpcCall } from './testing/grpc-call.js';
import { localGatewayConfig } from './testing/local-gateway.js';
import { startEchoUpstream, startRawGrpcUpstream, type TestUpstream } from './testing/upstreams.js';

// The shared model-access case table through the whole proxy (jwt, the plugin, acl, rate-limiting, the
// upstreams), for every case whose token the generated jwt credentials admit as the case's consumer and whose
// request a route matches. The others (no consumer, a token jwt refuses first, a path no route matches) run at
// the plugin level in plugins/model-access.test.ts.

const TOKENS_ISSUED_AT_MS = 1_800_000_000_000; // the case builder's ISSUED_AT
const clock = new ManualClock(TOKENS_ISSUED_AT_MS + 1000);

let table: ModelAccessCaseTable;
let generated: GatewayConfig;
let kong: KongEmulator;
let rest: TestUpstream;
let grpc: TestUpstream;

beforeAll(async () => {
  table = await modelAccessCases(DEFAULT_POLICY, DEFAULT_SECRETS);
  rest = await startEchoUpstream();
  grpc = await startRawGrpcUpstream();
  generated = localGatewayConfig({ restPort: rest.port, grpcPort: grpc.port });
  kong = await KongEmulator.start({
    config: generated,
    plugins: ['bundled', 'modelgate-model-access'],
    clock,
  });
});

afterAll(async () => {
  await kong?.stop();
  await rest?.close();
  await grpc?.close();
});

function withPluginConfig(overrides: Partial<ModelAccessConfig>): GatewayConfig {
  const config = structuredClone(generated);
  const plugin = config.plugins?.find((candidate) => candidate.name === 'modelgate-model-access');
  if (plugin?.name === 'modelgate-model-access') plugin.config = { ...plugin.config, ...overrides };
  return config;
}

async function throughProxy(testCase: ModelAccessCase): Promise<boolean> {
  if (!testCase.consumer || !testCase.token) return false;
  const { plugin, credentials } = jwtSetup(kong.configuration);
  const jwt = await checkJwt(
    plugin,
    credentials,
    [`Bearer ${testCase.token}`],
    Math.floor(clock.now() / 1000),
  );
  if (!jwt.ok || jwt.consumer !== testCase.consumer) return false;
  const grpcShaped =
    testCase.request.protocol === 'grpc' && isGrpcContentType(testCase.request.headers['content-type']);
  const route = new RouteMatcher(kong.configuration.routes).match({
    protocol: grpcShaped ? 'grpc' : 'http',
    method: testCase.request.method,
    path: testCase.request.path,
    host: '127.0.0.1',
    headers: testCase.request.headers,
  });
  return route !== null;
}

async function run(testCase: ModelAccessCase): Promise<unknown> {
  const body = Buffer.from(testCase.request.body, 'base64');
  const authorization = `Bearer ${testCase.token}`;
  if (testCase.request.protocol === 'grpc') {
    const answer = await grpcCall(kong.grpcAddress(), testCase.request.path, body, {
      ...testCase.request.headers,
      authorization,
    });
    if (Number(answer.headers[':status']) === 200 && answer.trailers['grpc-status'] === '0')
      return { allowed: true };
    return {
      allowed: false,
      status: answer.headers[':status'],
      grpcStatus: Number(answer.headers['grpc-status']),
      grpcMessage: answer.headers['grpc-message'],
    };
  }
  const response = await fetch(`${kong.proxyUrl()}${testCase.request.path}`, {
    method: testCase.request.method,
    headers: { ...testCase.request.headers, authorization },
    ...(testCase.request.method === 'POST' ? { body } : {}),
  });
  const text = await response.text();
  if (response.status === 200 && response.headers.get('x-upstream') === 'echo') return { allowed: true };
  return {
    allowed: false,
    status: response.status,
    message: (JSON.parse(text) as { message: string }).message,
  };
}

function expected(testCase: ModelAccessCase): unknown {
  const outcome = testCase.expect;
  if (outcome.allowed) return { allowed: true };
  if ('grpcStatus' in outcome) {
    return {
      allowed: false,
      status: outcome.status,
      grpcStatus: outcome.grpcStatus,
      grpcMessage: outcome.grpcMessage,
    };
  }
  return { allowed: false, status: outcome.status, message: outcome.message };
}

describe('the model-access case table through the whole emulator', () => {
  it('answers every case jwt admits and a route matches as the table expects, over HTTP/1.1 and gRPC', async () => {
    const failures: string[] = [];
    let ran = 0;
    for (const testCase of table.cases) {
      clock.advance(100);
      if (!(await throughProxy(testCase))) continue;
      ran++;
      if (testCase.config) kong.replaceConfig(withPluginConfig(testCase.config));
      try {
        const actual = await run(testCase);
        if (JSON.stringify(actual) !== JSON.stringify(expected(testCase))) {
          failures.push(
            `${testCase.name}: expected ${JSON.stringify(expected(testCase))}, got ${JSON.stringify(actual)}`,
          );
        }
      } finally {
        if (testCase.config) kong.replaceConfig(generated);
      }
    }
    expect(failures).toEqual([]);
    // most of the table reaches the proxy; the rest is covered at the plugin level
    expect(ran).toBeGreaterThan(table.cases.length / 2);
  });
});
