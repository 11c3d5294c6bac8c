import { createHash } from 'node:crypto';
import {
  clientSecret,
  DEFAULT_POLICY,
  DEFAULT_SECRETS,
  issuerUrl,
  keycloakIssuer,
  keycloakRealm,
  type RealmImport,
  signingKey,
} from '@modelgate/policy';
import { createLocalJWKSet, decodeJwt, jwtVerify } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { KeycloakEmulator, type StartedKeycloakEmulator } from './keycloak-emulator.js';

// What the differential table cannot show: behaviour the generated realm never reaches on the real server.

const policy = DEFAULT_POLICY;
const realmName = keycloakIssuer(policy).issuer.realm;
const client = policy.clients[0]?.id ?? 'ops-console';
let emulator: KeycloakEmulator | undefined;

afterEach(async () => {
  await emulator?.stop();
  emulator = undefined;
});

async function started(
  options: ConstructorParameters<typeof KeycloakEmulator>[0],
): Promise<StartedKeycloakEmulator> {
  emulator = new KeycloakEmulator({ httpHost: '127.0.0.1', ...options });
  return emulator.start();
}

async function form(
  url: string,
  body: Record<string, string>,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

function serviceTokenRequest(baseUrl: string) {
  return form(`${baseUrl}/realms/${realmName}/protocol/openid-connect/token`, {
    grant_type: 'client_credentials',
    client_id: client,
    client_secret: clientSecret(DEFAULT_SECRETS, client),
  });
}

describe('KeycloakEmulator', () => {
  it('derives the kid as base64url SHA-256 of the public key, and its tokens verify against its JWKS', async () => {
    const { baseUrl } = await started({ realms: [await keycloakRealm(policy, DEFAULT_SECRETS)] });
    const key = signingKey(DEFAULT_SECRETS, keycloakIssuer(policy).keys.activeGeneration);
    const spki = key.publicKey.export({ type: 'spki', format: 'der' });
    const { body } = await serviceTokenRequest(baseUrl);
    const jwks = (await (
      await fetch(`${baseUrl}/realms/${realmName}/protocol/openid-connect/certs`)
    ).json()) as {
      keys: { kid: string }[];
    };
    expect(jwks.keys.map((jwk) => jwk.kid)).toEqual([createHash('sha256').update(spki).digest('base64url')]);
    const { payload, protectedHeader } = await jwtVerify(
      String(body.access_token),
      createLocalJWKSet(jwks as Parameters<typeof createLocalJWKSet>[0]),
      { issuer: issuerUrl(policy), audience: policy.issuer.audience },
    );
    expect(protectedHeader).toEqual({ alg: 'RS256', typ: 'JWT', kid: jwks.keys[0]?.kid });
    expect(payload.preferred_username).toBe(`service-account-${client}`);
  });

  it('pins the issuer to --hostname for a realm without frontendUrl, and follows the Host header without it', async () => {
    const admin = { adminUser: 'admin', adminPassword: 'secret' };
    const login = { grant_type: 'password', client_id: 'admin-cli', username: 'admin', password: 'secret' };
    const pinned = await started({ ...admin, hostname: 'https://auth.example.test' });
    const fromPinned = await form(`${pinned.baseUrl}/realms/master/protocol/openid-connect/token`, login);
    expect(decodeJwt(String(fromPinned.body.access_token)).iss).toBe(
      'https://auth.example.test/realms/master',
    );
    await emulator?.stop();

    const free = await started(admin);
    const fromFree = await form(`${free.baseUrl}/realms/master/protocol/openid-connect/token`, login);
    expect(decodeJwt(String(fromFree.body.access_token)).iss).toBe(`${free.baseUrl}/realms/master`);
  });

  it('answers introspection as active, with the token claims, when the caller is in the audience', async () => {
    const realm = await keycloakRealm(policy, DEFAULT_SECRETS);
    const selfAudience: RealmImport = {
      ...realm,
      clients: realm.clients?.map((candidate) =>
        candidate.clientId === client
          ? {
              ...candidate,
              protocolMappers: [
                ...(candidate.protocolMappers ?? []),
                {
                  name: 'self',
                  protocol: 'openid-connect',
                  protocolMapper: 'oidc-audience-mapper',
                  config: { 'included.custom.audience': client, 'access.token.claim': 'true' },
                },
              ],
            }
          : candidate,
      ),
    };
    const { baseUrl } = await started({ realms: [selfAudience] });
    const token = String((await serviceTokenRequest(baseUrl)).body.access_token);
    const answer = await form(`${baseUrl}/realms/${realmName}/protocol/openid-connect/token/introspect`, {
      token,
      client_id: client,
      client_secret: clientSecret(DEFAULT_SECRETS, client),
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      active: true,
      client_id: client,
      username: `service-account-${client}`,
      token_type: 'Bearer',
      iss: issuerUrl(policy),
      aud: [policy.issuer.audience, client, 'account'],
    });
  });

  it('serves health on the management port only', async () => {
    const { baseUrl, managementUrl } = await started({});
    const ready = await fetch(`${managementUrl}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      status: 'UP',
      checks: [
        { name: 'Graceful Shutdown', status: 'UP' },
        { name: 'Keycloak Initialized', status: 'UP' },
      ],
    });
    expect((await fetch(`${baseUrl}/health/ready`)).status).toBe(404);
  });

  it('refuses the admin API to a token of another realm', async () => {
    const { baseUrl } = await started({ realms: [await keycloakRealm(policy, DEFAULT_SECRETS)] });
    const token = String((await serviceTokenRequest(baseUrl)).body.access_token);
    const response = await fetch(`${baseUrl}/admin/realms/${realmName}/components`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ error: 'HTTP 401 Unauthorized' });
  });
});
