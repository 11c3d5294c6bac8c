import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compilePolicy } from '../compile.js';
import { DEFAULT_POLICY_INPUT } from '../default-policy.js';
import { checkJwt, jwtSetup } from '../gateway/jwt-credential-check.js';
import { kongConfig } from '../gateway/kong-config.js';
import { validateKongConfig } from '../kong-validator/index.js';
import { modelAccessConfig } from '../model-access/model-access-config.js';
import { MODEL_ACCESS_PLUGIN_SCHEMA } from '../model-access/model-access-plugin-schema.js';
import { type Policy, parsePolicy } from '../policy.js';
import { PolicyError } from '../policy-error.js';

// An issuer modelgate does not run (Okta, Auth0, another Keycloak): its public keys come from its JWKS document,
// saved to a file; the client is named by another claim. Here an Okta-like issuer signing with an EC P-256 key
// and naming the client in `cid`.

const NOW = 1_800_000_000;
const ISSUER = 'https://tenant.example/oauth2/default';

let dir: string;
let ecKey: { privateKey: KeyObject; publicKey: KeyObject };
let rsaKey: { privateKey: KeyObject; publicKey: KeyObject };

function jwk(key: KeyObject, extra: Record<string, string>) {
  return { ...key.export({ format: 'jwk' }), ...extra };
}

function writeJwks(name: string, keys: unknown[]): string {
  writeFileSync(join(dir, name), JSON.stringify({ keys }));
  return name;
}

function oidcPolicy(issuer: Record<string, unknown>): Policy {
  const { keys: _keys, interactive: _interactive, ...rest } = structuredClone(DEFAULT_POLICY_INPUT);
  return parsePolicy(
    {
      ...rest,
      issuer: { kind: 'oidc', url: ISSUER, audience: 'api://modelgate', clientClaim: 'cid', ...issuer },
    },
    'oidc.policy.json',
    { baseDir: dir },
  );
}

function issuesOf(action: () => unknown): string[] {
  try {
    action();
  } catch (error) {
    if (error instanceof PolicyError) return error.issues.map((issue) => `${issue.path}: ${issue.message}`);
    throw error;
  }
  throw new Error('expected a PolicyError');
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'modelgate-oidc-'));
  ecKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  rsaKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeJwks('okta.jwks.json', [
    jwk(ecKey.publicKey, { kid: 'ec-2026', use: 'sig', alg: 'ES256' }),
    jwk(rsaKey.publicKey, { kid: 'rsa-enc', use: 'enc' }),
  ]);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('an oidc issuer', () => {
  it('compiles to ES256 credentials keyed by the client claim, with no secrets file', async () => {
    const policy = oidcPolicy({ jwks: 'okta.jwks.json' });
    const compiled = await compilePolicy(policy, undefined);
    expect([...compiled.files.keys()].filter((path) => !path.startsWith('kong-plugins/'))).toEqual([
      'policy.json',
      'gateway/kong.json',
      'keys/ec-2026.public.pem',
      'manifest.json',
    ]);
    const config = validateKongConfig(kongConfig(policy, undefined), {
      plugins: [MODEL_ACCESS_PLUGIN_SCHEMA],
    });
    const { plugin, credentials } = jwtSetup(config);
    expect(plugin.key_claim_name).toBe('cid');
    expect(plugin.maximum_expiration).toBe(3600 + 60);
    expect(credentials.map(({ key, algorithm }) => [key, algorithm])).toEqual([
      ['ops-console', 'ES256'],
      ['classifier-app', 'ES256'],
      ['no-access', 'ES256'],
    ]);
    expect(modelAccessConfig(policy)).toMatchObject({ issuer: ISSUER, audience: 'api://modelgate' });
  });

  it("accepts the issuer's token as the client it names, and refuses one signed by another key", async () => {
    const policy = oidcPolicy({ jwks: 'okta.jwks.json' });
    const { plugin, credentials } = jwtSetup(
      validateKongConfig(kongConfig(policy, undefined), { plugins: [MODEL_ACCESS_PLUGIN_SCHEMA] }),
    );
    const claims = { iss: ISSUER, aud: 'api://modelgate', cid: 'classifier-app', iat: NOW, exp: NOW + 3600 };
    const sign = (key: KeyObject) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'ec-2026' }).sign(key);
    const accepted = await checkJwt(plugin, credentials, [`Bearer ${await sign(ecKey.privateKey)}`], NOW);
    expect(accepted).toMatchObject({ ok: true, consumer: 'classifier-app' });
    const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    expect(await checkJwt(plugin, credentials, [`Bearer ${await sign(stranger)}`], NOW)).toMatchObject({
      ok: false,
      body: { message: 'Invalid signature' },
    });
  });

  it('needs keyId when the JWKS holds several signing keys, and names the kids it has', () => {
    writeJwks('two.jwks.json', [
      jwk(ecKey.publicKey, { kid: 'ec-2026' }),
      jwk(rsaKey.publicKey, { kid: 'rsa-2025', alg: 'RS256' }),
    ]);
    expect(issuesOf(() => oidcPolicy({ jwks: 'two.jwks.json' }))).toEqual([
      `issuer.jwks: ${join(dir, 'two.jwks.json')} holds 2 signing keys (ec-2026, rsa-2025): name the one the gateway trusts in issuer.keyId`,
    ]);
    const policy = oidcPolicy({ jwks: 'two.jwks.json', keyId: 'rsa-2025' });
    expect(policy.issuer.kind === 'oidc' && policy.issuer.signingKey).toMatchObject({
      kid: 'rsa-2025',
      algorithm: 'RS256',
    });
    expect(issuesOf(() => oidcPolicy({ jwks: 'two.jwks.json', keyId: 'nope' }))).toEqual([
      `issuer.jwks: ${join(dir, 'two.jwks.json')} has no signing key with kid "nope" (has: ec-2026, rsa-2025)`,
    ]);
  });

  it('refuses a private key, an alg that does not fit the key, a missing file, and keycloak-only sections', () => {
    writeJwks('private.jwks.json', [{ ...ecKey.privateKey.export({ format: 'jwk' }), kid: 'oops' }]);
    expect(issuesOf(() => oidcPolicy({ jwks: 'private.jwks.json' }))).toEqual([
      'issuer.jwks.keys[0]: is a private key: give the public JWKS',
    ]);
    writeJwks('misfit.jwks.json', [jwk(ecKey.publicKey, { kid: 'ec', alg: 'RS256' })]);
    expect(issuesOf(() => oidcPolicy({ jwks: 'misfit.jwks.json' }))).toEqual([
      'issuer.jwks.keys[0]: alg RS256 does not fit the EC P-256 key (expected one of ES256)',
    ]);
    expect(issuesOf(() => oidcPolicy({ jwks: 'missing.json' }))[0]).toMatch(
      /^issuer\.jwks: cannot read the JWKS file .*missing\.json: ENOENT/,
    );
    const withKeys = {
      ...structuredClone(DEFAULT_POLICY_INPUT),
      issuer: { kind: 'oidc', url: ISSUER, audience: 'a', jwks: 'okta.jwks.json' },
    };
    expect(
      issuesOf(() => parsePolicy(withKeys, 'p', { baseDir: dir })).map((line) => line.split(':')[0]),
    ).toEqual(['keys', 'interactive']);
  });
});
