import { once } from 'node:events';
import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import { connect as connectHttp2 } from 'node:http2';
import type { AddressInfo } from 'node:net';
import {
  DEFAULT_POLICY,
  DEFAULT_SECRETS,
  type GatewayConfig,
  KongConfigError,
  kongConfig,
  MODEL_ACCESS_REFUSALS,
  maximumTokenLifetime,
  type UpstreamOptions,
} from '@modelgate/policy';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from './kong-clock.js';
import { KongPluginsError } from './kong-config-loader.js';
import { KongEmulator } from './kong-emulator.js';
import { grpcCall } from './testing/grpc-call.js';
import { getWithHeaderArray } from './testing/header-array-request.js';
import { predictFrame } from './testing/predict-frame.js';
import { mintToken, strangerKey } from './testing/tokens.js';
import { startEchoUpstream, startRawGrpcUpstream, type TestUpstream } from './testing/upstreams.js';

// The emulator end to end: the generated config, a REST echo upstream and a raw gRPC upstream, and every
// refusal of products.md 1b-1d and 1g over HTTP/1.1 and gRPC.

const PLUGINS = ['bundled', 'modelgate-model-access'];
const EPOCH_SECONDS = 1_800_000_000; // a whole minute: 1_800_000_000 % 60 === 0
const PREDICT = '/tensorflow.serving.PredictionService/Predict';

let rest: TestUpstream;
let grpc: TestUpstream;
let upstream: UpstreamOptions;
let generated: GatewayConfig;
let kong: KongEmulator;
const clock = new ManualClock(EPOCH_SECONDS * 1000);

const nowSeconds = () => Math.floor(clock.now() / 1000);
const token = (clientId: string, claims: Record<string, unknown> = {}) =>
  mintToken(clientId, { issuedAt: nowSeconds(), claims });

function get(path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Response> {
  return fetch(`${kong.proxyUrl()}${path}`, { method, headers });
}

function configWith(change: (config: GatewayConfig) => void): GatewayConfig {
  const copy = structuredClone(generated);
  change(copy);
  return copy;
}

beforeAll(async () => {
  rest = await startEchoUpstream();
  grpc = await startRawGrpcUpstream();
  upstream = { host: '127.0.0.1', restPort: rest.port, grpcPort: grpc.port };
  generated = kongConfig(DEFAULT_POLICY, DEFAULT_SECRETS, upstream);
  kong = await KongEmulator.start({ config: generated, plugins: PLUGINS, clock });
});

afterAll(async () => {
  await kong?.stop();
  await rest?.close();
  await grpc?.close();
});

beforeEach(() => {
  // a fresh minute for every test, so rate-limit counters of one test never reach the next
  clock.set((Math.floor(clock.now() / 60_000) + 2) * 60_000 + 10_250);
  kong.replaceConfig(generated);
  rest.requests.length = 0;
  grpc.requests.length = 0;
});

describe('loading the declarative config', () => {
  it("refuses a config the validator refuses, with Kong's message, before listening", async () => {
    const started = KongEmulator.start({ config: { _format_version: '3.0', services: [{ name: 's' }] } });
    await expect(started).rejects.toBeInstanceOf(KongConfigError);
    await expect(started).rejects.toThrow(
      'declarative config is invalid: {services={{host="required field missing"}}}',
    );
  });

  it('refuses the per-model plugin when KONG_PLUGINS does not enable it', async () => {
    await expect(KongEmulator.start({ config: generated, plugins: ['bundled'] })).rejects.toThrow(
      /plugin 'modelgate-model-access' not enabled/,
    );
  });

  it('refuses a KONG_PLUGINS entry it cannot run', async () => {
    await expect(
      KongEmulator.start({ config: generated, plugins: ['bundled', 'oidc'] }),
    ).rejects.toBeInstanceOf(KongPluginsError);
  });
});

describe('proxying REST over HTTP/1.1', () => {
  it('passes an admitted call to the REST upstream with the consumer headers, and the rate-limit headers back', async () => {
    const response = await get(
      '/v1/models/classifier/versions/2:predict',
      {
        authorization: `Bearer ${await token('classifier-app')}`,
      },
      'POST',
    );
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      method: 'POST',
      path: '/v1/models/classifier/versions/2:predict',
    });
    const seen = rest.requests[0];
    expect(seen?.headers['x-consumer-username']).toBe('classifier-app');
    expect(seen?.headers['x-credential-identifier']).toBe('classifier-app');
    expect(seen?.headers['x-consumer-groups']).toBeUndefined(); // hide_groups_header
    expect(seen?.headers['x-kong-request-id']).toMatch(/^[0-9a-f]{32}$/);
    expect(seen?.headers.host).toBe(`127.0.0.1:${rest.port}`);
    expect(response.headers.get('x-ratelimit-limit-second')).toBe('50');
    expect(response.headers.get('x-ratelimit-remaining-second')).toBe('49');
    expect(response.headers.get('x-ratelimit-limit-minute')).toBe('1000');
    expect(response.headers.get('x-ratelimit-remaining-minute')).toBe('999');
    expect(response.headers.get('ratelimit-limit')).toBe('50');
    expect(response.headers.get('ratelimit-remaining')).toBe('49');
    expect(response.headers.get('ratelimit-reset')).toBe('1');
    expect(response.headers.get('via')).toBe('1.1 kong/3.9.3');
    // header_filter's defaults: latency_tokens, and Server where the upstream sent none
    expect(response.headers.get('x-kong-upstream-latency')).toMatch(/^\d+$/);
    expect(response.headers.get('x-kong-proxy-latency')).toMatch(/^\d+$/);
    expect(response.headers.get('server')).toBe('kong/3.9.3');
  });

  it('keeps a client connection as nginx does under Kong: 75 s idle, 10,000 requests', async () => {
    // node names its limits in a Keep-Alive header (nginx sends none): they are nginx's keepalive_timeout
    // default and Kong's nginx_http_keepalive_requests, not node's 5 s and no limit
    for (const url of [kong.proxyUrl(), kong.adminUrl()]) {
      const response = await fetch(`${url}/v1/models/classifier`);
      await response.text();
      expect(response.headers.get('connection')).toBe('keep-alive');
      expect(response.headers.get('keep-alive')).toBe('timeout=75, max=10000');
    }
  });

  it('splits the time as Kong does: the upload and its own work in X-Kong-Proxy-Latency, the upstream in X-Kong-Upstream-Latency', async () => {
    const PAUSE_MS = 150;
    const slow = createServer((request, response) => {
      request.resume();
      request.on('end', () => setTimeout(() => response.end('{}'), PAUSE_MS));
    });
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    try {
      const port = (slow.address() as AddressInfo).port;
      kong.replaceConfig(kongConfig(DEFAULT_POLICY, DEFAULT_SECRETS, { ...upstream, restPort: port }));
      const authorization = `Bearer ${await token('ops-console')}`;
      const started = performance.now();
      // half the body, a pause, the rest: with request buffering Kong calls the upstream once it has it all
      const answer = await new Promise<IncomingMessage>((resolve, reject) => {
        const call = httpRequest(`${kong.proxyUrl()}/v1/models/classifier:predict`, {
          method: 'POST',
          headers: { authorization, 'content-type': 'application/json', 'content-length': '17' },
        });
        call.on('response', resolve).on('error', reject);
        call.write('{"instances":');
        setTimeout(() => call.end('[1]}'), PAUSE_MS);
      });
      answer.resume();
      await once(answer, 'end');
      const elapsed = performance.now() - started;
      expect(answer.statusCode).toBe(200);
      const upstreamMs = Number(answer.headers['x-kong-upstream-latency']);
      const proxyMs = Number(answer.headers['x-kong-proxy-latency']);
      // the upstream's timer starts after the emulator sent it the request: at least the pause, exactly
      expect(upstreamMs).toBeGreaterThanOrEqual(PAUSE_MS - 1);
      // the client's timer starts before the emulator sees the request (by a few ms on a loaded machine)
      expect(proxyMs).toBeGreaterThanOrEqual(PAUSE_MS / 2);
      // each part counted once: together they fit in what the client waited
      expect(upstreamMs + proxyMs).toBeLessThanOrEqual(Math.ceil(elapsed) + 1);
      const refused = await get('/v1/models/classifier');
      expect(refused.status).toBe(401);
      expect(refused.headers.get('x-kong-upstream-latency')).toBeNull();
      expect(refused.headers.get('x-kong-response-latency')).toMatch(/^\d+$/);
    } finally {
      slow.closeAllConnections();
      await new Promise((resolve) => slow.close(resolve));
    }
  });

  it('relays headers as nginx does: names as written, repeats kept, the ones Kong sets replacing the others', async () => {
    const relay = await startEchoUpstream({
      responseHeaders: [
        'Via',
        '1.0 upstream-cache',
        'X-Kong-Request-Id',
        'not-from-kong',
        'Set-Cookie',
        'a=1',
        'Set-Cookie',
        'b=2',
        'X-Upstream-Case',
        'Kept',
        'Server',
        'tf-serving-like/1',
        'X-Kong-Upstream-Latency',
        'not-from-kong',
      ],
    });
    try {
      kong.replaceConfig(kongConfig(DEFAULT_POLICY, DEFAULT_SECRETS, { ...upstream, restPort: relay.port }));
      const authorization = `Bearer ${await token('ops-console')}`;
      // a header array goes out as written: names in their case, repeats as separate lines
      const answer = await getWithHeaderArray(`${kong.proxyUrl()}/v1/models/classifier`, [
        'Authorization',
        authorization,
        'X-Trace',
        'one',
        'x-trace',
        'two',
        'X-Real-IP',
        '203.0.113.9',
        'X-Consumer-Username',
        'spoofed',
        'X-Forwarded-Host',
        'spoofed.example',
      ]);
      expect(answer.status).toBe(200);
      const seen = relay.requests[0]?.rawHeaders ?? [];
      const sent = (raw: string[], name: string) =>
        raw.flatMap((each, i) => (i % 2 === 0 && each.toLowerCase() === name ? [raw[i + 1]] : []));
      expect(seen.join('|')).toContain('X-Trace|one|x-trace|two');
      expect(sent(seen, 'x-real-ip')).toEqual(['127.0.0.1']);
      expect(sent(seen, 'x-consumer-username')).toEqual(['ops-console']);
      expect(sent(seen, 'x-forwarded-host')).toEqual(['127.0.0.1']);
      // handler.lua (3.8 on) adds this hop to the Via each way
      expect(sent(answer.rawHeaders, 'via')).toEqual(['1.0 upstream-cache, 1.1 kong/3.9.3']);
      expect(sent(seen, 'via')).toEqual(['1.1 kong/3.9.3']);
      expect(sent(answer.rawHeaders, 'x-kong-request-id')).toEqual([expect.stringMatching(/^[0-9a-f]{32}$/)]);
      expect(sent(answer.rawHeaders, 'set-cookie')).toEqual(['a=1', 'b=2']);
      expect(answer.rawHeaders).toContain('X-Upstream-Case');
      // the upstream's Server stays (Kong adds its own only where there is none); its latency header does not
      expect(sent(answer.rawHeaders, 'server')).toEqual(['tf-serving-like/1']);
      expect(sent(answer.rawHeaders, 'x-kong-upstream-latency')).toEqual([expect.stringMatching(/^\d+$/)]);
    } finally {
      await relay.close();
    }
  });

  it('relays an answer with repeated single-value headers to an HTTP/2 client (node would refuse them as sent)', async () => {
    const relay = await startEchoUpstream({
      responseHeaders: [
        'Date',
        'Thu, 01 Jan 2026 00:00:00 GMT',
        'Date',
        'Fri, 02 Jan 2026 00:00:00 GMT',
        'Set-Cookie',
        'a=1',
        'Set-Cookie',
        'b=2',
        'Proxy-Connection',
        'keep-alive',
      ],
    });
    const session = connectHttp2(`http://${kong.grpcAddress()}`);
    try {
      kong.replaceConfig(kongConfig(DEFAULT_POLICY, DEFAULT_SECRETS, { ...upstream, restPort: relay.port }));
      const authorization = `Bearer ${await token('ops-console')}`;
      const headers = await new Promise<Record<string, unknown>>((resolve, reject) => {
        session.on('error', reject);
        // two cookie fields, as an HTTP/2 client may split them: the HTTP/1.1 upstream gets one line
        const stream = session.request({
          ':method': 'GET',
          ':path': '/v1/models/classifier',
          authorization,
          cookie: ['a=1', 'b=2'],
        });
        stream.on('response', (answer) => {
          stream.resume();
          stream.on('end', () => resolve(answer));
        });
        stream.on('error', reject);
        stream.end();
      });
      expect(headers[':status']).toBe(200);
      expect(headers.date).toBe('Thu, 01 Jan 2026 00:00:00 GMT, Fri, 02 Jan 2026 00:00:00 GMT');
      expect(headers['set-cookie']).toEqual(['a=1', 'b=2']);
      expect(headers['proxy-connection']).toBeUndefined();
      expect(headers.via).toBe('1.1 kong/3.9.3');
      const seen = relay.requests[0]?.rawHeaders ?? [];
      expect(seen.filter((_, i) => i % 2 === 0 && seen[i]?.toLowerCase() === 'cookie')).toHaveLength(1);
      expect(relay.requests[0]?.headers.cookie).toBe('a=1; b=2');
      expect(seen.some((name) => name.startsWith(':'))).toBe(false);
    } finally {
      session.close();
      await relay.close();
    }
  });

  it('matches only the anchored model regex: /v1/models/classifierx is no route (404)', async () => {
    const response = await get('/v1/models/classifierx:predict', {
      authorization: `Bearer ${await token('ops-console')}`,
    });
    expect(response.status).toBe(404);
    const requestId = response.headers.get('x-kong-request-id');
    expect(await response.text()).toBe(
      `{\n  "message":"no Route matched with those values",\n  "request_id":"${requestId}"\n}`,
    );
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
  });

  it('refuses a method the route does not list (404: no route)', async () => {
    const response = await get(
      '/v1/models/classifier',
      { authorization: `Bearer ${await token('ops-console')}` },
      'PUT',
    );
    expect(response.status).toBe(404);
  });

  it('answers 502 with the error template when the upstream refuses the connection', async () => {
    const closed = await startEchoUpstream();
    await closed.close();
    kong.replaceConfig(kongConfig(DEFAULT_POLICY, DEFAULT_SECRETS, { ...upstream, restPort: closed.port }));
    const response = await get('/v1/models/classifier', {
      authorization: `Bearer ${await token('ops-console')}`,
    });
    expect(response.status).toBe(502);
    expect(await response.text()).toBe(
      `{\n  "message":"An invalid response was received from the upstream server",\n  "request_id":"${response.headers.get('x-kong-request-id')}"\n}`,
    );
  });
});

/** Every jwt refusal of products.md 1b that the generated config can meet, with the token that causes it. */
const JWT_REFUSALS: {
  name: string;
  authorization: () => Promise<string | undefined>;
  body: object;
  www: string;
}[] = [
  {
    name: 'no token',
    authorization: async () => undefined,
    body: { message: 'Unauthorized' },
    www: 'Bearer',
  },
  {
    name: 'a header that is not a bearer token',
    authorization: async () => 'Basic dXNlcjpwYXNz',
    body: { message: 'Unauthorized' },
    www: 'Bearer',
  },
  {
    name: 'an undecodable token',
    authorization: async () => 'Bearer not.a-token.at-all',
    body: { message: 'Bad token; invalid JSON' },
    www: 'Bearer error="invalid_token"',
  },
  {
    name: 'a token without the key claim (azp)',
    authorization: async () => `Bearer ${await token('ops-console', { azp: undefined })}`,
    body: { message: "No mandatory 'azp' in claims" },
    www: 'Bearer error="invalid_token"',
  },
  {
    name: 'an empty key claim',
    authorization: async () => `Bearer ${await token('ops-console', { azp: '' })}`,
    body: { message: "Invalid 'azp' in claims" },
    www: 'Bearer error="invalid_token"',
  },
  {
    name: 'a key claim no credential has',
    authorization: async () => `Bearer ${await token('stranger')}`,
    body: { message: "No credentials found for given 'azp'" },
    www: 'Bearer error="invalid_token"',
  },
  {
    name: "an alg other than the credential's",
    authorization: async () =>
      `Bearer ${await mintToken('ops-console', { issuedAt: nowSeconds(), alg: 'HS256', key: new Uint8Array(32) })}`,
    body: { message: 'Invalid algorithm' },
    www: 'Bearer error="invalid_token"',
  },
  {
    name: 'a bad signature',
    authorization: async () =>
      `Bearer ${await mintToken('ops-console', { issuedAt: nowSeconds(), key: strangerKey() })}`,
    body: { message: 'Invalid signature' },
    www: 'Bearer error="invalid_token"',
  },
  {
    name: 'an expired token (exp == now)',
    authorization: async () => `Bearer ${await token('ops-console', { exp: nowSeconds() })}`,
    body: { exp: 'token expired' },
    www: 'Bearer error="invalid_token"',
  },
  {
    name: 'an exp that is not a number',
    authorization: async () => `Bearer ${await token('ops-console', { exp: 'soon' })}`,
    body: { exp: 'must be a number' },
    www: 'Bearer error="invalid_token"',
  },
  {
    name: 'a lifetime over maximum_expiration',
    authorization: async () =>
      `Bearer ${await token('ops-console', { exp: nowSeconds() + maximumTokenLifetime(DEFAULT_POLICY) + 1 })}`,
    body: { exp: 'exceeds maximum allowed expiration' },
    www: 'Bearer error="invalid_token"',
  },
];

describe('jwt refusals', () => {
  for (const refusal of JWT_REFUSALS) {
    it(`refuses ${refusal.name} over HTTP with 401, its body and WWW-Authenticate`, async () => {
      const authorization = await refusal.authorization();
      const response = await get('/v1/models/classifier', authorization ? { authorization } : {});
      expect(response.status).toBe(401);
      expect(await response.text()).toBe(JSON.stringify(refusal.body));
      expect(response.headers.get('www-authenticate')).toBe(refusal.www);
      expect(rest.requests).toEqual([]);
    });

    it(`refuses ${refusal.name} over gRPC with :status 401 and grpc-status 16`, async () => {
      const authorization = await refusal.authorization();
      const answer = await grpcCall(
        kong.grpcAddress(),
        PREDICT,
        predictFrame('classifier'),
        authorization ? { authorization } : {},
      );
      expect(answer.trailersOnly).toBe(true);
      expect(answer.headers[':status']).toBe(401);
      expect(answer.headers['content-type']).toBe('application/grpc');
      expect(answer.headers['grpc-status']).toBe('16');
      expect(answer.headers['grpc-message']).toBe(
        'message' in refusal.body ? refusal.body.message : 'Unauthenticated',
      );
      expect(answer.headers['www-authenticate']).toBe(refusal.www);
      expect(grpc.requests).toEqual([]);
    });
  }

  it('refuses two different tokens (query and header) with Multiple tokens provided', async () => {
    kong.replaceConfig(
      configWith((config) => {
        const jwt = config.plugins?.find((plugin) => plugin.name === 'jwt');
        if (jwt?.name === 'jwt') jwt.config = { ...jwt.config, uri_param_names: ['jwt'] };
      }),
    );
    const first = await token('ops-console');
    const second = await token('classifier-app');
    const response = await get(`/v1/models/classifier?jwt=${first}`, { authorization: `Bearer ${second}` });
    expect(response.status).toBe(401);
    expect(await response.text()).toBe('{"message":"Multiple tokens provided"}');
    expect(response.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
  });

  it('skips every OPTIONS request with run_on_preflight false, a CORS preflight or not', async () => {
    kong.replaceConfig(
      configWith((config) => {
        const jwt = config.plugins?.find((plugin) => plugin.name === 'jwt');
        if (jwt?.name === 'jwt') jwt.config = { ...jwt.config, run_on_preflight: false };
        for (const route of config.services?.flatMap((service) => service.routes ?? []) ?? []) {
          if (route.methods) route.methods = [...route.methods, 'OPTIONS'];
        }
      }),
    );
    const response = await get('/v1/models/classifier', {}, 'OPTIONS');
    // jwt let it through without a token; the per-model plugin, which needs the consumer jwt sets, refuses it
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBeNull();
    expect(((await response.json()) as { message: string }).message).toBe(
      MODEL_ACCESS_REFUSALS.unauthenticated.message,
    );
  });

  // The shared jwt check (@modelgate/policy checkJwt) follows jwt_parser.lua and handler.lua here.
  it('refuses alg none with Bad token; invalid alg (jwt_parser.lua)', async () => {
    const [header, payload] = (await token('ops-console')).split('.');
    const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${payload}.`;
    expect(header).toBeDefined();
    const response = await get('/v1/models/classifier', { authorization: `Bearer ${none}` });
    expect(await response.text()).toBe('{"message":"Bad token; invalid alg"}');
  });

  it('sends Bearer realm="x" error="invalid_token", without a comma, when realm is set', async () => {
    kong.replaceConfig(
      configWith((config) => {
        const jwt = config.plugins?.find((plugin) => plugin.name === 'jwt');
        if (jwt?.name === 'jwt') jwt.config = { ...jwt.config, realm: 'models' };
      }),
    );
    const response = await get('/v1/models/classifier', { authorization: 'Bearer not.a.token' });
    expect(response.headers.get('www-authenticate')).toBe('Bearer realm="models" error="invalid_token"');
  });

  it('admits the same token given twice (query and header)', async () => {
    kong.replaceConfig(
      configWith((config) => {
        const jwt = config.plugins?.find((plugin) => plugin.name === 'jwt');
        if (jwt?.name === 'jwt') jwt.config = { ...jwt.config, uri_param_names: ['jwt'] };
      }),
    );
    const same = await token('ops-console');
    const response = await get(`/v1/models/classifier?jwt=${same}`, { authorization: `Bearer ${same}` });
    expect(response.status).toBe(200);
  });
});

describe('per-model access and acl', () => {
  it('refuses a model outside the grants with 403 through the error template', async () => {
    const response = await get(
      '/v1/models/convnet:predict',
      { authorization: `Bearer ${await token('classifier-app')}` },
      'POST',
    );
    expect(response.status).toBe(403);
    expect(response.headers.get('www-authenticate')).toBeNull();
    expect(await response.text()).toBe(
      `{\n  "message":"You cannot consume this model",\n  "request_id":"${response.headers.get('x-kong-request-id')}"\n}`,
    );
  });

  it('renders the error template as the Accept header asks (text/plain)', async () => {
    const response = await get('/v1/models/convnet', {
      authorization: `Bearer ${await token('classifier-app')}`,
      accept: 'text/plain',
    });
    expect(response.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await response.text()).toBe(
      `You cannot consume this model\nrequest_id: ${response.headers.get('x-kong-request-id')}\n`,
    );
  });

  it('refuses over gRPC with grpc-status 7 and the plugin message', async () => {
    const answer = await grpcCall(kong.grpcAddress(), PREDICT, predictFrame('convnet'), {
      authorization: `Bearer ${await token('classifier-app')}`,
    });
    expect(answer).toMatchObject({ trailersOnly: true });
    expect(answer.headers[':status']).toBe(403);
    expect(answer.headers['grpc-status']).toBe('7');
    expect(answer.headers['grpc-message']).toBe('You cannot consume this model');
  });

  const grantNoAccess = () =>
    configWith((config) => {
      const plugin = config.plugins?.find((candidate) => candidate.name === 'modelgate-model-access');
      if (plugin?.name === 'modelgate-model-access') plugin.config.grants['no-access'] = ['classifier'];
    });

  it('acl refuses a consumer outside the route group with 403 You cannot consume this service', async () => {
    kong.replaceConfig(grantNoAccess());
    const response = await get('/v1/models/classifier', {
      authorization: `Bearer ${await token('no-access')}`,
    });
    expect(response.status).toBe(403);
    expect(await response.text()).toBe(
      `{\n  "message":"You cannot consume this service",\n  "request_id":"${response.headers.get('x-kong-request-id')}"\n}`,
    );
  });

  it('acl refuses over gRPC with grpc-status 7 PermissionDenied', async () => {
    kong.replaceConfig(grantNoAccess());
    const answer = await grpcCall(kong.grpcAddress(), PREDICT, predictFrame('classifier'), {
      authorization: `Bearer ${await token('no-access')}`,
    });
    expect(answer.headers[':status']).toBe(403);
    expect(answer.headers['grpc-status']).toBe('7');
    expect(answer.headers['grpc-message']).toBe('PermissionDenied');
  });
});

describe('rate limiting', () => {
  // classifier-app has its own (consumer-scoped) rate-limiting, which wins over the global one
  const tight = () =>
    configWith((config) => {
      const consumer = config.consumers?.find((candidate) => candidate.username === 'classifier-app');
      const plugin = consumer?.plugins?.find((candidate) => candidate.name === 'rate-limiting');
      if (plugin?.name === 'rate-limiting') plugin.config = { ...plugin.config, second: 2, minute: 3 };
    });

  it('runs the consumer-scoped instance rather than the global one', async () => {
    const response = await get('/v1/models/half_plus_two', {
      authorization: `Bearer ${await token('ops-console')}`,
    });
    expect(response.headers.get('x-ratelimit-limit-second')).toBe('200');
    const cli = await get('/v1/models/half_plus_two', {
      authorization: `Bearer ${await token('modelgate-cli')}`,
    });
    expect(cli.headers.get('x-ratelimit-limit-second')).toBe('50');
  });

  it('counts per window aligned to the clock, and refuses with 429, every header and Retry-After', async () => {
    kong.replaceConfig(tight());
    const authorization = `Bearer ${await token('classifier-app')}`;
    const call = () => get('/v1/models/classifier', { authorization });
    const headersOf = (response: Response) => ({
      status: response.status,
      second: [
        response.headers.get('x-ratelimit-limit-second'),
        response.headers.get('x-ratelimit-remaining-second'),
      ],
      minute: [
        response.headers.get('x-ratelimit-limit-minute'),
        response.headers.get('x-ratelimit-remaining-minute'),
      ],
      ratelimit: [
        response.headers.get('ratelimit-limit'),
        response.headers.get('ratelimit-remaining'),
        response.headers.get('ratelimit-reset'),
      ],
      retryAfter: response.headers.get('retry-after'),
    });
    // 10.25 s into a minute
    expect(headersOf(await call())).toEqual({
      status: 200,
      second: ['2', '1'],
      minute: ['3', '2'],
      ratelimit: ['2', '1', '1'],
      retryAfter: null,
    });
    expect(headersOf(await call())).toMatchObject({
      status: 200,
      second: ['2', '0'],
      ratelimit: ['2', '0', '1'],
    });
    const blocked = await call();
    expect(headersOf(blocked)).toEqual({
      status: 429,
      second: ['2', '0'],
      minute: ['3', '1'],
      ratelimit: ['2', '0', '1'],
      retryAfter: '1',
    });
    expect(await blocked.text()).toBe(
      `{\n  "message":"API rate limit exceeded",\n  "request_id":"${blocked.headers.get('x-kong-request-id')}"\n}`,
    );
    clock.advance(1000); // 11.25 s: a new second, the minute has one left
    expect(headersOf(await call())).toEqual({
      status: 200,
      second: ['2', '1'],
      minute: ['3', '0'],
      ratelimit: ['3', '0', '49'],
      retryAfter: null,
    });
    clock.advance(1000);
    expect(headersOf(await call())).toEqual({
      status: 429,
      second: ['2', '2'],
      minute: ['3', '0'],
      ratelimit: ['3', '0', '48'],
      retryAfter: '48',
    });
    clock.advance(48_750); // the next minute starts
    expect((await call()).status).toBe(200);
  });

  it('refuses over gRPC with :status 429 and grpc-status 8 ResourceExhausted', async () => {
    kong.replaceConfig(tight());
    const authorization = `Bearer ${await token('classifier-app')}`;
    for (let i = 0; i < 2; i++) {
      const answer = await grpcCall(kong.grpcAddress(), PREDICT, predictFrame('classifier'), {
        authorization,
      });
      expect(answer.trailers['grpc-status']).toBe('0');
    }
    const answer = await grpcCall(kong.grpcAddress(), PREDICT, predictFrame('classifier'), { authorization });
    expect(answer.trailersOnly).toBe(true);
    expect(answer.headers[':status']).toBe(429);
    expect(answer.headers['grpc-status']).toBe('8');
    expect(answer.headers['grpc-message']).toBe('ResourceExhausted');
    expect(answer.headers['retry-after']).toBe('1');
    expect(answer.headers['x-ratelimit-remaining-second']).toBe('0');
  });
});

describe('proxying gRPC over HTTP/2 cleartext', () => {
  it('relays an admitted call, its body unchanged, and the upstream trailers', async () => {
    const body = predictFrame('classifier');
    const answer = await grpcCall(kong.grpcAddress(), PREDICT, body, {
      authorization: `Bearer ${await token('ops-console')}`,
    });
    expect(answer.headers[':status']).toBe(200);
    expect(answer.trailers).toMatchObject({ 'grpc-status': '0', 'x-upstream-trailer': 'kept' });
    expect(answer.body).toEqual(Buffer.from([0, 0, 0, 0, 0]));
    expect(grpc.requests).toHaveLength(1);
    expect(grpc.requests[0]?.path).toBe(PREDICT);
    expect(grpc.requests[0]?.body).toEqual(body);
    expect(grpc.requests[0]?.headers['x-consumer-username']).toBe('ops-console');
  });

  it('sends te: trailers upstream as grpc_pass does, even when the client left it out', async () => {
    // the test upstream refuses a call without it, as gRPC C++ servers (TF Serving) do
    const answer = await grpcCall(kong.grpcAddress(), PREDICT, predictFrame('classifier'), {
      authorization: `Bearer ${await token('ops-console')}`,
      te: '',
    });
    expect(answer.trailers['grpc-status']).toBe('0');
    expect(grpc.requests[0]?.headers.te).toBe('trailers');
  });

  it('refuses a gRPC call over HTTP/1.1 on the gRPC route with 426 Please use HTTP2 protocol', async () => {
    const response = await fetch(`${kong.proxyUrl()}${PREDICT}`, {
      method: 'POST',
      headers: { 'content-type': 'application/grpc', authorization: `Bearer ${await token('ops-console')}` },
      body: predictFrame('classifier'),
    });
    expect(response.status).toBe(426);
    expect(response.headers.get('upgrade')).toBe('HTTP/2');
    expect(((await response.json()) as { message: string }).message).toBe('Please use HTTP2 protocol');
    expect(grpc.requests).toEqual([]);
  });

  it('refuses a non-gRPC request on the gRPC route with 415, over HTTP/1.1 and HTTP/2', async () => {
    const response = await fetch(`${kong.proxyUrl()}${PREDICT}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(response.status).toBe(415);
    expect(((await response.json()) as { message: string }).message).toBe(
      'Non-gRPC request matched gRPC route',
    );
    const overHttp2 = await grpcCall(kong.grpcAddress(), PREDICT, predictFrame('classifier'), {
      'content-type': 'application/json',
    });
    expect(overHttp2.headers[':status']).toBe(415);
    expect(JSON.parse(overHttp2.body.toString()).message).toBe('Non-gRPC request matched gRPC route');
    expect(grpc.requests).toEqual([]);
  });

  it('lets a gRPC call matching an HTTP route through to the plugins (Kong refuses no such mismatch)', async () => {
    const answer = await grpcCall(
      kong.grpcAddress(),
      '/v1/models/classifier:predict',
      predictFrame('classifier'),
      {
        authorization: `Bearer ${await token('ops-console')}`,
      },
    );
    // the per-model plugin reads it as a gRPC call to a method it does not know
    expect(answer.headers[':status']).toBe(403);
    expect(answer.headers['grpc-status']).toBe('7');
  });

  it('answers a call no route matches with :status 404 and grpc-status 5', async () => {
    const answer = await grpcCall(kong.grpcAddress(), '/other.Service/Call', predictFrame('classifier'));
    expect(answer.trailersOnly).toBe(true);
    expect(answer.headers[':status']).toBe(404);
    expect(answer.headers['grpc-status']).toBe('5');
    expect(answer.headers['grpc-message']).toBe('NotFound');
  });

  it('answers 502 as grpc-status 13 with the upstream message when the upstream is gone', async () => {
    const closed = await startRawGrpcUpstream();
    await closed.close();
    kong.replaceConfig(kongConfig(DEFAULT_POLICY, DEFAULT_SECRETS, { ...upstream, grpcPort: closed.port }));
    const answer = await grpcCall(kong.grpcAddress(), PREDICT, predictFrame('classifier'), {
      authorization: `Bearer ${await token('ops-console')}`,
    });
    expect(answer.headers[':status']).toBe(502);
    expect(answer.headers['grpc-status']).toBe('13');
    expect(answer.headers['grpc-message']).toBe('An invalid response was received from the upstream server');
  });
});

/** A raw HTTP/1.1 POST (fetch cannot send Expect or leave out Content-Length). */
function rawPost(path: string, headers: Record<string, string>, body: string, chunked = false) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const url = new URL(path, kong.proxyUrl());
    const framing = chunked
      ? { 'transfer-encoding': 'chunked' }
      : { 'content-length': String(Buffer.byteLength(body)) };
    const call = httpRequest(url, { method: 'POST', headers: { ...headers, ...framing } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
      );
    });
    call.on('error', reject);
    call.end(body);
  });
}

describe('correlation-id and request-size-limiting', () => {
  it('makes a uuid#counter id, sends it upstream and echoes it, refusals included', async () => {
    const admitted = await get('/v1/models/classifier', {
      authorization: `Bearer ${await token('ops-console')}`,
    });
    const id = admitted.headers.get('kong-request-id');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}#\d+$/);
    expect(rest.requests[0]?.headers['kong-request-id']).toBe(id);
    const refused = await get('/v1/models/classifier');
    expect(refused.status).toBe(401);
    expect(refused.headers.get('kong-request-id')).toMatch(/#\d+$/);
    const kept = await get('/v1/models/classifier', {
      authorization: `Bearer ${await token('ops-console')}`,
      'kong-request-id': 'from-client',
    });
    expect(kept.headers.get('kong-request-id')).toBe('from-client');
  });

  const limited = (change: object) =>
    configWith((config) => {
      const plugin = config.plugins?.find((candidate) => candidate.name === 'request-size-limiting');
      if (plugin?.name === 'request-size-limiting') plugin.config = { ...plugin.config, ...change };
    });

  it('refuses a body over the limit with 413, or 417 with Expect: 100-continue', async () => {
    kong.replaceConfig(limited({ allowed_payload_size: 10, size_unit: 'bytes' }));
    const authorization = `Bearer ${await token('ops-console')}`;
    const path = '/v1/models/classifier:predict';
    expect((await rawPost(path, { authorization }, '0123456789')).status).toBe(200);
    const over = await rawPost(path, { authorization }, '0123456789a');
    expect(over.status).toBe(413);
    expect(JSON.parse(over.body)).toMatchObject({ message: 'Request size limit exceeded' });
    const expecting = await rawPost(path, { authorization, expect: '100-continue' }, '0123456789a');
    expect(expecting.status).toBe(417);
  });

  it('refuses a body without Content-Length with 411 when one is required', async () => {
    kong.replaceConfig(limited({ require_content_length: true }));
    const answer = await rawPost(
      '/v1/models/classifier:predict',
      { authorization: `Bearer ${await token('ops-console')}` },
      '{}',
      true,
    );
    expect(answer.status).toBe(411);
    expect(JSON.parse(answer.body)).toMatchObject({ message: 'A valid Content-Length header is required' });
  });
});
