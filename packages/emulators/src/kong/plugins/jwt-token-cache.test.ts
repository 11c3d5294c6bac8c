import { generateKeyPairSync } from 'node:crypto';
import { DEFAULT_POLICY, type GatewayConfig, type NormalizedKongConfig } from '@modelgate/policy';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../kong-clock.js';
import { KongEmulator } from '../kong-emulator.js';
import { localGatewayConfig } from '../testing/local-gateway.js';
import { mintToken } from '../testing/tokens.js';
import { startEchoUpstream, type TestUpstream } from '../testing/upstreams.js';
import { tokenExp, VerifiedTokenCache } from './jwt-token-cache.js';

// The verified-token cache: bounded, never used at or past exp, and flushed by POST /config so that a
// retired key stops working on the very next request.

const PLUGINS = ['bundled', 'modelgate-model-access'];
const configA = {} as NormalizedKongConfig;
const configB = {} as NormalizedKongConfig;
const verified = { consumer: 'c', credentialKey: 'k' };
const jws = (claims: object) => `e30.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;

describe('VerifiedTokenCache', () => {
  it('answers a cached token until its exp and not at or after it', () => {
    const cache = new VerifiedTokenCache(10);
    const token = jws({ exp: 1000 });
    cache.set(configA, 'p', token, verified, 900);
    expect(cache.get(configA, 'p', token, 999)).toEqual(expect.objectContaining(verified));
    expect(cache.get(configA, 'p', token, 1000)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('never answers for another config or another plugin instance', () => {
    const cache = new VerifiedTokenCache(10);
    const token = jws({ exp: 1000 });
    cache.set(configA, 'p', token, verified, 900);
    expect(cache.get(configA, 'q', token, 901)).toBeUndefined();
    expect(cache.get(configB, 'p', token, 901)).toBeUndefined();
  });

  it('keeps at most maxEntries, dropping the least recently used', () => {
    const cache = new VerifiedTokenCache(2);
    cache.set(configA, 'p', jws({ n: 1 }), verified, 0);
    cache.set(configA, 'p', jws({ n: 2 }), verified, 0);
    expect(cache.get(configA, 'p', jws({ n: 1 }), 0)).toBeDefined(); // 1 is now the most recent
    cache.set(configA, 'p', jws({ n: 3 }), verified, 0);
    expect(cache.size).toBe(2);
    expect(cache.get(configA, 'p', jws({ n: 2 }), 0)).toBeUndefined();
    expect(cache.get(configA, 'p', jws({ n: 1 }), 0)).toBeDefined();
  });

  it('keeps the order of use when the most recent entry is hit again', () => {
    const cache = new VerifiedTokenCache(2);
    const [a, b, c] = [jws({ n: 'a' }), jws({ n: 'b' }), jws({ n: 'c' })];
    cache.set(configA, 'p', a, verified, 0);
    cache.set(configA, 'p', b, verified, 0);
    expect(cache.get(configA, 'p', b, 0)).toBeDefined(); // already the most recent
    expect(cache.get(configA, 'p', a, 0)).toBeDefined(); // a now the most recent
    expect(cache.get(configA, 'p', b, 0)).toBeDefined(); // and b again
    expect(cache.get(configA, 'p', b, 0)).toBeDefined();
    cache.set(configA, 'p', c, verified, 0);
    expect(cache.get(configA, 'p', a, 0)).toBeUndefined();
    expect(cache.get(configA, 'p', b, 0)).toBeDefined();
    expect(cache.get(configA, 'p', c, 0)).toBeDefined();
  });

  it('answers nothing when it may keep no entry, nor after a flush', () => {
    const none = new VerifiedTokenCache(0);
    const token = jws({ exp: 1000 });
    none.set(configA, 'p', token, verified, 0);
    expect(none.get(configA, 'p', token, 0)).toBeUndefined();
    const cache = new VerifiedTokenCache(10);
    cache.set(configA, 'p', token, verified, 0);
    cache.flush();
    expect(cache.get(configA, 'p', token, 0)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('answers nothing through the most recent entry once it went stale, or once another was set', () => {
    const cache = new VerifiedTokenCache(2);
    const [a, b, c] = [jws({ n: 'a' }), jws({ n: 'b' }), jws({ n: 'c' })];
    cache.set(configA, 'p', a, verified, 0);
    expect(cache.get(configA, 'q', a, 0)).toBeUndefined(); // another plugin instance: dropped
    expect(cache.get(configA, 'p', a, 0)).toBeUndefined();
    cache.set(configA, 'p', a, verified, 0);
    expect(cache.get(configA, 'p', a, 0)).toBeDefined();
    cache.set(configA, 'p', b, verified, 0); // b is now the most recent...
    expect(cache.get(configA, 'p', a, 0)).toBeDefined(); // ...until a is used again
    cache.set(configA, 'p', c, verified, 0);
    expect(cache.get(configA, 'p', b, 0)).toBeUndefined();
    expect(cache.get(configA, 'p', a, 0)).toBeDefined();
  });

  it('reads exp from the payload, or null', () => {
    expect(tokenExp(jws({ exp: 42 }))).toBe(42);
    expect(tokenExp(jws({}))).toBeNull();
    expect(tokenExp('garbage')).toBeNull();
  });
});

describe('the jwt plugin with the cache, end to end', () => {
  let rest: TestUpstream;
  let generated: GatewayConfig;
  let kong: KongEmulator;
  const clock = new ManualClock(1_800_000_000_000);

  beforeAll(async () => {
    rest = await startEchoUpstream();
    generated = localGatewayConfig({ restPort: rest.port, grpcPort: 1 });
    for (const plugin of generated.plugins ?? []) {
      if (plugin.name === 'file-log') (plugin.config as { path: string }).path = '/dev/null';
    }
    kong = await KongEmulator.start({ config: generated, plugins: PLUGINS, clock });
  });

  afterAll(async () => {
    await kong?.stop();
    await rest?.close();
  });

  const call = async (token: string) => {
    const response = await fetch(`${kong.proxyUrl()}/v1/models/classifier`, {
      headers: { authorization: `Bearer ${token}` },
    });
    return { status: response.status, body: await response.text() };
  };

  it('verifies a token once and then answers from the cache; with the cache off, every time', async () => {
    const verify = vi.spyOn(globalThis.crypto.subtle, 'verify');
    const uncached = await KongEmulator.start({
      config: generated,
      plugins: PLUGINS,
      clock,
      tokenCacheEntries: 0,
    });
    try {
      const token = await mintToken('ops-console', { issuedAt: Math.floor(clock.now() / 1000) });
      verify.mockClear();
      for (let i = 0; i < 3; i++) expect((await call(token)).status).toBe(200);
      expect(verify).toHaveBeenCalledTimes(1);
      verify.mockClear();
      for (let i = 0; i < 3; i++) {
        const response = await fetch(`${uncached.proxyUrl()}/v1/models/classifier`, {
          headers: { authorization: `Bearer ${token}` },
        });
        expect(response.status).toBe(200);
        await response.text();
      }
      expect(verify).toHaveBeenCalledTimes(3);
    } finally {
      verify.mockRestore();
      await uncached.stop();
    }
  });

  it('refuses a cached token at once after POST /config retires its key', async () => {
    const token = await mintToken('ops-console', { issuedAt: Math.floor(clock.now() / 1000) });
    expect((await call(token)).status).toBe(200);
    expect((await call(token)).status).toBe(200); // now from the cache
    const rotated = structuredClone(generated);
    const newKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({
      type: 'spki',
      format: 'pem',
    });
    for (const consumer of rotated.consumers ?? [])
      for (const secret of consumer.jwt_secrets ?? []) secret.rsa_public_key = String(newKey);
    const posted = await fetch(`${kong.adminUrl()}/config`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(rotated),
    });
    expect(posted.status).toBe(201);
    expect(await call(token)).toEqual({ status: 401, body: '{"message":"Invalid signature"}' });
  });

  it('refuses a cached token once the clock reaches its exp', async () => {
    kong.replaceConfig(generated);
    const issuedAt = Math.floor(clock.now() / 1000);
    const token = await mintToken('ops-console', { issuedAt });
    expect((await call(token)).status).toBe(200);
    clock.set((issuedAt + DEFAULT_POLICY.issuer.tokenLifetimeSeconds) * 1000);
    expect(await call(token)).toEqual({ status: 401, body: '{"exp":"token expired"}' });
  });
});
