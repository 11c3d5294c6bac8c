import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  clientSecret,
  DEFAULT_POLICY,
  DEFAULT_POLICY_INPUT,
  DEFAULT_SECRETS,
  keycloakRealm,
  kongConfig,
  parsePolicy,
} from '@modelgate/policy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KongEmulator } from '../kong/kong-emulator.js';
import { startEchoUpstream, startRawGrpcUpstream, type TestUpstream } from '../kong/testing/upstreams.js';
import { KeycloakEmulator } from './keycloak-emulator.js';

// An oidc policy against an issuer modelgate does not manage: the Keycloak emulator stands in for it. Its JWKS
// is fetched into a file, the policy compiled from that file alone (no secrets file), and the Kong emulator
// run with the result: the issuer's own tokens pass as the clients they name, per model.

let dir: string;
let keycloak: KeycloakEmulator;
let kong: KongEmulator;
let rest: TestUpstream;
let grpc: TestUpstream;
let tokenUrl: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'modelgate-foreign-issuer-'));
  keycloak = new KeycloakEmulator({
    httpHost: '127.0.0.1',
    realms: [await keycloakRealm(DEFAULT_POLICY, DEFAULT_SECRETS)],
  });
  const { baseUrl } = await keycloak.start();
  const discovery = (await (
    await fetch(`${baseUrl}/realms/modelgate/.well-known/openid-configuration`)
  ).json()) as { issuer: string; jwks_uri: string; token_endpoint: string };
  // The issuer's URLs name the pinned frontendUrl; fetch them from where the emulator listens.
  const local = (url: string) => url.replace(/^https?:\/\/[^/]+/, baseUrl);
  writeFileSync(join(dir, 'issuer.jwks.json'), await (await fetch(local(discovery.jwks_uri))).text());
  tokenUrl = local(discovery.token_endpoint);
  const { keys: _keys, interactive: _interactive, ...rest0 } = structuredClone(DEFAULT_POLICY_INPUT);
  const policy = parsePolicy(
    {
      ...rest0,
      issuer: {
        kind: 'oidc',
        url: discovery.issuer,
        jwks: 'issuer.jwks.json',
        clientClaim: 'azp',
        audience: 'modelgate-gateway',
        tokenUrl: discovery.token_endpoint,
      },
    },
    'foreign.policy.json',
    { baseDir: dir },
  );
  rest = await startEchoUpstream();
  grpc = await startRawGrpcUpstream();
  kong = await KongEmulator.start({
    config: kongConfig(policy, undefined, { host: '127.0.0.1', restPort: rest.port, grpcPort: grpc.port }),
    plugins: ['bundled', 'modelgate-model-access'],
  });
});

afterAll(async () => {
  await kong?.stop();
  await rest?.close();
  await grpc?.close();
  await keycloak?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function tokenOf(client: string): Promise<string> {
  const response = await fetch(tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: client,
      client_secret: clientSecret(DEFAULT_SECRETS, client),
    }),
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { access_token: string }).access_token;
}

async function predict(model: string, token: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`${kong.proxyUrl()}/v1/models/${model}:predict`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: '{"instances":[[1.0,2.0,3.0,4.0]]}',
  });
  return { status: response.status, body: await response.text() };
}

describe('an oidc policy compiled from a foreign issuer JWKS file', () => {
  it("lets the issuer's client call exactly its models through the gateway", async () => {
    const token = await tokenOf('classifier-app');
    expect((await predict('classifier', token)).status).toBe(200);
    const refused = await predict('convnet', token);
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body)).toMatchObject({ message: 'You cannot consume this model' });
  });

  it('refuses a token the gateway has no credential for with the jwt plugin 401', async () => {
    const forged = `${(await tokenOf('ops-console')).split('.').slice(0, 2).join('.')}.c2lnbmF0dXJl`;
    const answer = await predict('classifier', forged);
    expect(answer.status).toBe(401);
    expect(JSON.parse(answer.body)).toEqual({ message: 'Invalid signature' });
  });
});
