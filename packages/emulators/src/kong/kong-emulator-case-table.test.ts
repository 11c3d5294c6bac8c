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
import { grpcCall } from './testing/grpc-call.js';
import { localGatewayConfig } from './testing/local-gateway.js';
import { startEchoUpstream, startRawGrpcUpstream, type TestUpstream } from './testing/upstreams.js';

// The shared model-access case table through the whole proxy (router, runloop, jwt, the plugin, acl,
// rate-limiting, the upstreams): every case runs, each expecting the answer of the layer that meets it first.

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

/** What the whole gateway answers, and which layer answers it. */
type GatewayExpectation =
  | { layer: 'runloop' | 'router' | 'jwt' | 'plugins'; answer: unknown }
  | { layer: 'another consumer'; reason: string };

/**
 * The answer the gateway owes a case, by the layer that answers first: the router and the runloop's protocol
 * checks (read from the generated routes: their regex paths and protocols, and products.md 0/1g), then jwt
 * (the shared check that the fixtures hold to products.md 1b), then the plugins as the table says. A case
 * whose token jwt admits as another consumer than the table's (the table's "no consumer" cases: jwt can only
 * ever set the token's own) cannot show the table's answer through a gateway, and says so.
 */
async function gatewayExpectation(testCase: ModelAccessCase): Promise<GatewayExpectation> {
  const { request } = testCase;
  const grpcShaped = request.protocol === 'grpc';
  const refusal = (status: number, message: string, grpcStatus: number, grpcMessage = message) =>
    grpcShaped ? { allowed: false, status, grpcStatus, grpcMessage } : { allowed: false, status, message };
  const routes = kong.configuration.routes.filter((route) =>
    (route.paths ?? []).some((path) =>
      path.startsWith('~')
        ? new RegExp(`^(?:${path.slice(1)})`).test(request.path)
        : request.path.startsWith(path),
    ),
  );
  const route = routes.find((candidate) => !candidate.methods || candidate.methods.includes(request.method));
  if (!route)
    return { layer: 'router', answer: refusal(404, 'no Route matched with those values', 5, 'NotFound') };
  if (route.protocols.includes('grpc')) {
    const contentType = request.headers['content-type'] ?? '';
    if (!grpcShaped || !contentType.startsWith('application/grpc')) {
      // over HTTP/2 without a gRPC content type Kong's answer is not a gRPC one either
      return {
        layer: 'runloop',
        answer: { allowed: false, status: 415, message: 'Non-gRPC request matched gRPC route' },
      };
    }
  }
  if (!testCase.token) {
    return {
      layer: 'jwt',
      answer: grpcShaped ? refusal(401, 'Unauthorized', 16) : { message: 'Unauthorized' },
    };
  }
  const { plugin, credentials } = jwtSetup(kong.configuration);
  const jwt = await checkJwt(
    plugin,
    credentials,
    [`Bearer ${testCase.token}`],
    Math.floor(clock.now() / 1000),
  );
  if (!jwt.ok) {
    const message = jwt.body.message ?? Object.values(jwt.body)[0] ?? '';
    return { layer: 'jwt', answer: grpcShaped ? refusal(401, message, 16) : jwt.body };
  }
  if (jwt.consumer !== testCase.consumer) {
    return {
      layer: 'another consumer',
      reason: `jwt admits the token as ${jwt.consumer}, the table says ${testCase.consumer}`,
    };
  }
  return { layer: 'plugins', answer: expected(testCase) };
}

async function run(testCase: ModelAccessCase): Promise<unknown> {
  const body = Buffer.from(testCase.request.body, 'base64');
  const authorization: Record<string, string> = testCase.token
    ? { authorization: `Bearer ${testCase.token}` }
    : {};
  if (testCase.request.protocol === 'grpc') {
    const answer = await grpcCall(kong.grpcAddress(), testCase.request.path, body, {
      ...testCase.request.headers,
      ...authorization,
    });
    if (Number(answer.headers[':status']) === 200 && answer.trailers['grpc-status'] === '0')
      return { allowed: true };
    if (answer.headers['content-type'] !== 'application/grpc') {
      const { message } = JSON.parse(answer.body.toString()) as { message: string };
      return { allowed: false, status: answer.headers[':status'], message };
    }
    return {
      allowed: false,
      status: answer.headers[':status'],
      grpcStatus: Number(answer.headers['grpc-status']),
      grpcMessage: answer.headers['grpc-message'],
    };
  }
  const response = await fetch(`${kong.proxyUrl()}${testCase.request.path}`, {
    method: testCase.request.method,
    headers: { ...testCase.request.headers, ...authorization },
    ...(testCase.request.method === 'POST' ? { body } : {}),
  });
  const text = await response.text();
  if (response.status === 200 && response.headers.get('x-upstream') === 'echo') return { allowed: true };
  const answer = JSON.parse(text) as Record<string, string>;
  // jwt's refusals are its exit table as it is; the error template's carry a message and the request id
  if (response.status === 401 && !('request_id' in answer)) return answer;
  return { allowed: false, status: response.status, message: answer.message };
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
  it('answers every case as the layer that owns it must, over HTTP/1.1 and gRPC', async () => {
    const failures: string[] = [];
    const notReproducible: string[] = [];
    const layers = new Map<string, number>();
    for (const testCase of table.cases) {
      clock.advance(100);
      const expectation = await gatewayExpectation(testCase);
      layers.set(expectation.layer, (layers.get(expectation.layer) ?? 0) + 1);
      if (expectation.layer === 'another consumer') {
        notReproducible.push(testCase.name);
        continue;
      }
      if (testCase.config) kong.replaceConfig(withPluginConfig(testCase.config));
      try {
        const actual = await run(testCase);
        if (JSON.stringify(actual) !== JSON.stringify(expectation.answer)) {
          failures.push(
            `${testCase.name} (${expectation.layer}): expected ${JSON.stringify(expectation.answer)}, got ${JSON.stringify(actual)}`,
          );
        }
      } finally {
        if (testCase.config) kong.replaceConfig(generated);
      }
    }
    expect(failures).toEqual([]);
    // only the table's "no consumer" cases cannot be shown through a gateway: none drops out unnoticed
    expect(notReproducible).toEqual(
      table.cases
        .filter((testCase) => testCase.token && testCase.consumer === null)
        .map((testCase) => testCase.name),
    );
    for (const layer of ['router', 'runloop', 'jwt', 'plugins']) expect(layers.get(layer)).toBeGreaterThan(0);
  });
});
