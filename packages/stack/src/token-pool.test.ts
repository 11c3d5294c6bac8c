import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  checkJwt,
  clientSecret,
  DEFAULT_POLICY,
  DEFAULT_SECRETS,
  jwtSetup,
  keyRotationPlan,
  kongConfig,
  MODEL_ACCESS_PLUGIN_SCHEMA,
  signingKey,
  validateKongConfig,
} from '@modelgate/policy';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isUnauthorized, TokenPool } from './token-pool.js';
import { TokenRequestError } from './token-request-error.js';

// A stand-in issuer (client-credentials grant, signing with a switchable key generation) and a stand-in
// gateway (the jwt plugin's checks over a switchable generated Kong config), to prove the pool's contract.

const CLIENTS = DEFAULT_POLICY.clients.map((client) => ({
  clientId: client.id,
  clientSecret: clientSecret(DEFAULT_SECRETS, client.id),
}));
let issuerGeneration = 'gen-1';
let requests = 0;
let server: Server;
let tokenEndpoint: string;

async function mint(clientId: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    azp: clientId,
    iss: 'http://localhost:8080/realms/modelgate',
    aud: 'modelgate-gateway',
  })
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
    .setIssuedAt(now)
    .setExpirationTime(now + 300)
    .sign(signingKey(DEFAULT_SECRETS, issuerGeneration).privateKey);
}

beforeAll(async () => {
  server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    request.on('end', () => {
      requests++;
      const form = new URLSearchParams(body);
      const client = CLIENTS.find((candidate) => candidate.clientId === form.get('client_id'));
      response.setHeader('content-type', 'application/json');
      if (!client || client.clientSecret !== form.get('client_secret')) {
        response.statusCode = 401;
        response.end(
          '{"error":"unauthorized_client","error_description":"Invalid client or Invalid client credentials"}',
        );
        return;
      }
      void mint(client.clientId).then((token) => {
        response.end(JSON.stringify({ access_token: token, expires_in: 300, token_type: 'Bearer' }));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  tokenEndpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  issuerGeneration = 'gen-1';
  requests = 0;
});

function gatewayWith(config: ReturnType<typeof kongConfig>) {
  const { plugin, credentials } = jwtSetup(
    validateKongConfig(config, { plugins: [MODEL_ACCESS_PLUGIN_SCHEMA] }),
  );
  return async (token: string) => {
    const verdict = await checkJwt(plugin, credentials, [`Bearer ${token}`], Math.floor(Date.now() / 1000));
    return new Response(JSON.stringify(verdict.ok ? { consumer: verdict.consumer } : verdict.body), {
      status: verdict.ok ? 200 : 401,
    });
  };
}

describe('TokenPool', () => {
  it('mints once per client and reuses the token until shortly before it expires', async () => {
    let now = 1_000_000;
    const pool = new TokenPool({ tokenEndpoint, clients: CLIENTS, now: () => now, refreshMarginSeconds: 30 });
    const first = await pool.token('ops-console');
    expect(await pool.token('ops-console')).toBe(first);
    now += 269_000;
    expect(await pool.token('ops-console')).toBe(first);
    now += 2_000; // 271 s: inside the 30 s margin of a 300 s token
    await pool.token('ops-console');
    expect(pool.minted).toBe(2);
  });

  it('mints a client token once however many callers ask at the same time', async () => {
    const pool = new TokenPool({ tokenEndpoint, clients: CLIENTS });
    const tokens = await Promise.all(Array.from({ length: 20 }, () => pool.token('classifier-app')));
    expect(new Set(tokens).size).toBe(1);
    expect(requests).toBe(1);
  });

  it('prefetches every client before a run', async () => {
    const pool = new TokenPool({ tokenEndpoint, clients: CLIENTS });
    await pool.prefetch();
    expect(pool.minted).toBe(CLIENTS.length);
  });

  it("surfaces the issuer's refusal with its status and OAuth error", async () => {
    const pool = new TokenPool({
      tokenEndpoint,
      clients: [{ clientId: 'ops-console', clientSecret: 'wrong' }],
    });
    const error = await pool.token('ops-console').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TokenRequestError);
    expect(error).toMatchObject({
      status: 401,
      error: 'unauthorized_client',
      errorDescription: 'Invalid client or Invalid client credentials',
    });
    await expect(pool.token('stranger')).rejects.toThrow(
      'the token pool has no credentials for client stranger',
    );
  });

  it('retries once with a fresh token on 401, and never on other failures', async () => {
    const pool = new TokenPool({ tokenEndpoint, clients: CLIENTS });
    let calls = 0;
    const flaky = async () => (++calls === 1 ? new Response('', { status: 401 }) : new Response('ok'));
    expect((await pool.withToken('ops-console', flaky)).status).toBe(200);
    expect([calls, pool.minted]).toEqual([2, 2]);
    calls = 0;
    await expect(
      pool.withToken('ops-console', async () => {
        calls++;
        throw Object.assign(new Error('INTERNAL'), { code: 13 });
      }),
    ).rejects.toThrow('INTERNAL');
    expect(calls).toBe(1);
  });

  it('treats HTTP 401 and gRPC UNAUTHENTICATED as a refused token', () => {
    expect(isUnauthorized(new Response('', { status: 401 }))).toBe(true);
    expect(isUnauthorized({ code: 16 })).toBe(true);
    expect(isUnauthorized({ code: 7 })).toBe(false);
    expect(isUnauthorized(new Response('', { status: 403 }))).toBe(false);
  });
});

describe('a key rotation seen through the pool', () => {
  it('costs its callers no failed call when Keycloak switches first and Kong second', async () => {
    const plan = await keyRotationPlan(DEFAULT_POLICY, DEFAULT_SECRETS, 'gen-2');
    let gateway = gatewayWith(kongConfig(DEFAULT_POLICY, DEFAULT_SECRETS));
    const pool = new TokenPool({ tokenEndpoint, clients: CLIENTS });
    const statuses: number[] = [];
    const callAll = async () => {
      const responses = await Promise.all(
        CLIENTS.flatMap(({ clientId }) =>
          Array.from({ length: 5 }, () => pool.withToken(clientId, (token) => gateway(token))),
        ),
      );
      statuses.push(...responses.map((response) => response.status));
    };
    await callAll();
    issuerGeneration = 'gen-2'; // step 1: Keycloak signs with the new key
    await callAll();
    gateway = gatewayWith(plan.kongConfig); // step 2: Kong takes the new config
    await callAll();
    await callAll();
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
    expect(statuses).toHaveLength(4 * 5 * CLIENTS.length);
    expect(pool.minted).toBe(2 * CLIENTS.length); // each client refreshed exactly once, on its first 401
  });

  it('fails only a token minted between the two steps, and only until Kong switches (the stated window)', async () => {
    const plan = await keyRotationPlan(DEFAULT_POLICY, DEFAULT_SECRETS, 'gen-2');
    let gateway = gatewayWith(kongConfig(DEFAULT_POLICY, DEFAULT_SECRETS));
    const pool = new TokenPool({ tokenEndpoint, clients: CLIENTS });
    issuerGeneration = 'gen-2'; // step 1 done, and this client has no token yet
    const inWindow = await pool.withToken('ops-console', (token) => gateway(token));
    expect(inWindow.status).toBe(401);
    expect(await inWindow.json()).toEqual({ message: 'Invalid signature' });
    gateway = gatewayWith(plan.kongConfig); // step 2
    expect((await pool.withToken('ops-console', (token) => gateway(token))).status).toBe(200);
  });
});
