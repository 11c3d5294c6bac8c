import KcAdminClient from '@keycloak/keycloak-admin-client';
import {
  clientSecret,
  DEFAULT_POLICY,
  DEFAULT_SECRETS,
  keycloakIssuer,
  keyRotationPlan,
  userPassword,
} from '@modelgate/policy';
import { decodeJwt, decodeProtectedHeader } from 'jose';

/** One Keycloak under test: the real 26.7.3 or the emulator, seeded with the same generated realm. */
export interface KeycloakTarget {
  baseUrl: string;
  managementUrl: string;
  admin: { username: string; password: string };
}

/**
 * A row of the differential table: it drives one target and returns what must be equal on both, already
 * reduced where the products may legitimately differ (ids and times compared by type, role lists as sets).
 */
export interface DifferentialCase {
  name: string;
  run(target: KeycloakTarget): Promise<unknown>;
}

const policy = DEFAULT_POLICY;
export const REALM = keycloakIssuer(policy).issuer.realm;
const SERVICE_CLIENT = policy.clients[0]?.id ?? 'ops-console';
const SECOND_CLIENT = policy.clients[1]?.id ?? 'classifier-app';
const interactive = policy.interactive ?? { clientId: 'modelgate-cli', username: 'developer' };
const TOKEN_PATH = `/realms/${REALM}/protocol/openid-connect/token`;
const INTROSPECT_PATH = `${TOKEN_PATH}/introspect`;
const CERTS_PATH = `/realms/${REALM}/protocol/openid-connect/certs`;
const FORM = 'application/x-www-form-urlencoded';

interface Exchange {
  status: number;
  /** Every header but those of the HTTP connection itself (date, length, keep-alive), values exact. */
  headers: Record<string, string>;
  body: unknown;
}

const CONNECTION_HEADERS = new Set([
  'date',
  'content-length',
  'connection',
  'keep-alive',
  'transfer-encoding',
]);

async function exchange(target: KeycloakTarget, path: string, init: RequestInit = {}): Promise<Exchange> {
  const response = await fetch(`${target.baseUrl}${path}`, init);
  const text = await response.text();
  return {
    status: response.status,
    headers: Object.fromEntries([...response.headers].filter(([name]) => !CONNECTION_HEADERS.has(name))),
    body: text === '' ? '' : (JSON.parse(text) as unknown),
  };
}

function post(form: Record<string, string>, authorization?: string): RequestInit {
  return {
    method: 'POST',
    headers: { 'content-type': FORM, ...(authorization ? { authorization } : {}) },
    body: new URLSearchParams(form),
  };
}

export function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

const secretOf = (clientId: string) => clientSecret(DEFAULT_SECRETS, clientId);
const passwordOf = (username: string) => userPassword(DEFAULT_SECRETS, username);

/** A value reduced to its JSON type, objects field by field: what "compared by name and type" means. */
export function typeShape(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(typeShape);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([key, inner]) => [key, typeShape(inner)]),
    );
  }
  return value === null ? 'null' : typeof value;
}

/** A space-separated scope list as a set: the real server's order changes from start to start. */
function scopeSet(scope: unknown): unknown {
  return typeof scope === 'string' ? scope.split(' ').sort() : scope;
}

/** Which key signed: the imported RSA key's kid is the same on both; generated keys (HMAC, master) only by type. */
type KidCheck = 'exact' | 'type';

/**
 * A token's exp - iat. Keycloak's TokenManager stamps an access token's iat, then reads the clock again for its
 * exp (now + lifespan), so across a second boundary the real server's figure is one more than the lifespan; a
 * refresh token's exp comes from the client session's timestamp, which is its iat, so it is exact.
 * `sameLifetime` (an equality tester for `expect(emulator).toEqual(real)`) allows exactly that.
 */
export class TokenLifetime {
  constructor(
    readonly seconds: number,
    readonly kind: 'access' | 'refresh',
  ) {}
}

export function sameLifetime(emulator: unknown, real: unknown): boolean | undefined {
  if (!(emulator instanceof TokenLifetime) || !(real instanceof TokenLifetime)) return undefined;
  if (emulator.kind !== real.kind) return false;
  const extra = real.seconds - emulator.seconds;
  return extra === 0 || (real.kind === 'access' && extra === 1);
}

/** Claims by name and type, plus the values that must be equal (issuer, audience, client, roles as sets). */
function tokenView(
  token: string,
  kind: TokenLifetime['kind'],
  exactClaims: string[],
  kid: KidCheck,
): unknown {
  const claims = decodeJwt(token) as Record<string, unknown>;
  const header = decodeProtectedHeader(token);
  const realmRoles = (claims.realm_access as { roles?: string[] } | undefined)?.roles;
  const exact = Object.fromEntries(
    exactClaims
      .filter((name) => name in claims)
      .map((name) => [name, name === 'scope' ? scopeSet(claims[name]) : claims[name]]),
  );
  const jti = String(claims.jti);
  return {
    header: kid === 'exact' ? header : { ...header, kid: typeof header.kid },
    shape: typeShape(claims),
    exact,
    realmRoles: realmRoles ? [...realmRoles].sort() : undefined,
    lifetime: new TokenLifetime(Number(claims.exp) - Number(claims.iat), kind),
    jtiPrefix: jti.includes(':') ? jti.split(':')[0] : 'none',
  };
}

const ACCESS_EXACT = [
  'iss',
  'aud',
  'typ',
  'azp',
  'acr',
  'scope',
  'email_verified',
  'preferred_username',
  'resource_access',
  'name',
  'given_name',
  'family_name',
  'email',
];

/** A token response: its fields by type, the fixed ones exact, the tokens decoded. */
function tokenResponseView(
  answer: Exchange,
  exactClaims: string[] = ACCESS_EXACT,
  kid: KidCheck = 'exact',
): unknown {
  if (answer.status !== 200) return answer;
  const body = answer.body as Record<string, unknown>;
  const {
    access_token: access,
    refresh_token: refresh,
    session_state: _session,
    expires_in: expiresIn,
    refresh_expires_in: refreshExpiresIn,
    scope,
    ...fixed
  } = body;
  // expires_in counts from the session start: the real server sometimes says 59 for a 60 s token
  const within = (seconds: unknown, token: unknown) => {
    if (typeof token !== 'string') return seconds;
    const claims = decodeJwt(token);
    return Math.abs(Number(claims.exp) - Number(claims.iat) - Number(seconds)) <= 1;
  };
  return {
    status: answer.status,
    headers: answer.headers,
    shape: typeShape(body),
    fixed: { ...fixed, scope: scopeSet(scope) },
    expiresIn: within(expiresIn, access),
    refreshExpiresIn: refresh === undefined ? refreshExpiresIn : within(refreshExpiresIn, refresh),
    access: tokenView(String(access), 'access', exactClaims, kid),
    refresh:
      refresh === undefined
        ? undefined
        : tokenView(String(refresh), 'refresh', ['typ', 'azp', 'scope', 'aud_x', 'prov'], 'type'),
  };
}

async function serviceToken(target: KeycloakTarget, clientId = SERVICE_CLIENT): Promise<string> {
  const answer = await exchange(
    target,
    TOKEN_PATH,
    post({ grant_type: 'client_credentials', client_id: clientId, client_secret: secretOf(clientId) }),
  );
  return (answer.body as { access_token: string }).access_token;
}

async function passwordToken(target: KeycloakTarget): Promise<string> {
  const answer = await exchange(
    target,
    TOKEN_PATH,
    post({
      grant_type: 'password',
      client_id: interactive.clientId,
      username: interactive.username,
      password: passwordOf(interactive.username),
    }),
  );
  return (answer.body as { access_token: string }).access_token;
}

async function adminToken(target: KeycloakTarget): Promise<string> {
  const answer = await exchange(
    target,
    '/realms/master/protocol/openid-connect/token',
    post({ grant_type: 'password', client_id: 'admin-cli', ...target.admin }),
  );
  return (answer.body as { access_token: string }).access_token;
}

async function adminExchange(
  target: KeycloakTarget,
  path: string,
  init: RequestInit = {},
): Promise<Exchange> {
  const token = await adminToken(target);
  return exchange(target, path, {
    ...init,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...init.headers },
  });
}

const tokenCase = (name: string, init: () => RequestInit, path = TOKEN_PATH): DifferentialCase => ({
  name,
  run: async (target) => tokenResponseView(await exchange(target, path, init())),
});

/** The realm-endpoint rows: run in order, none changes the realm. */
export const REALM_CASES: DifferentialCase[] = [
  {
    name: 'discovery document, every field and value (scopes_supported as a set)',
    run: async (target) => {
      const answer = await exchange(target, `/realms/${REALM}/.well-known/openid-configuration`);
      const body = answer.body as { scopes_supported?: string[] };
      return { ...answer, body: { ...body, scopes_supported: [...(body.scopes_supported ?? [])].sort() } };
    },
  },
  { name: 'realm info with its public key', run: (target) => exchange(target, `/realms/${REALM}`) },
  {
    name: 'JWKS: the imported key, with kid, n, e and the certificate fields equal',
    run: (target) => exchange(target, CERTS_PATH),
  },
  tokenCase('client_credentials with client_secret_post', () =>
    post({
      grant_type: 'client_credentials',
      client_id: SERVICE_CLIENT,
      client_secret: secretOf(SERVICE_CLIENT),
    }),
  ),
  tokenCase('client_credentials with client_secret_basic', () =>
    post({ grant_type: 'client_credentials' }, basic(SERVICE_CLIENT, secretOf(SERVICE_CLIENT))),
  ),
  tokenCase('client_credentials for a client with one model', () =>
    post({
      grant_type: 'client_credentials',
      client_id: SECOND_CLIENT,
      client_secret: secretOf(SECOND_CLIENT),
    }),
  ),
  tokenCase('password grant for the interactive client (adds sid, profile claims and a refresh token)', () =>
    post({
      grant_type: 'password',
      client_id: interactive.clientId,
      username: interactive.username,
      password: passwordOf(interactive.username),
    }),
  ),
  tokenCase('refuses a wrong secret (basic) with 401 unauthorized_client', () =>
    post({ grant_type: 'client_credentials' }, basic(SERVICE_CLIENT, 'wrong')),
  ),
  tokenCase('refuses a wrong secret (post) with 401 unauthorized_client', () =>
    post({ grant_type: 'client_credentials', client_id: SERVICE_CLIENT, client_secret: 'wrong' }),
  ),
  tokenCase('refuses an unknown client with 401 invalid_client', () =>
    post({ grant_type: 'client_credentials', client_id: 'nobody', client_secret: 'x' }),
  ),
  tokenCase('refuses client_credentials without credentials with 401 invalid_client', () =>
    post({ grant_type: 'client_credentials' }),
  ),
  tokenCase('refuses client_credentials for a public client', () =>
    post({ grant_type: 'client_credentials', client_id: interactive.clientId }),
  ),
  tokenCase('refuses grant_type=foo with 400 unsupported_grant_type', () =>
    post({ grant_type: 'foo', client_id: SERVICE_CLIENT, client_secret: secretOf(SERVICE_CLIENT) }),
  ),
  tokenCase('refuses a missing grant_type with 400 invalid_request', () =>
    post({ client_id: SERVICE_CLIENT }),
  ),
  tokenCase('refuses GET on the token endpoint with 405', () => ({ method: 'GET' })),
  tokenCase('refuses the password grant for a client without direct grants', () =>
    post({
      grant_type: 'password',
      client_id: SERVICE_CLIENT,
      client_secret: secretOf(SERVICE_CLIENT),
      username: interactive.username,
      password: passwordOf(interactive.username),
    }),
  ),
  tokenCase('refuses a wrong password with 400 invalid_grant', () =>
    post({
      grant_type: 'password',
      client_id: interactive.clientId,
      username: interactive.username,
      password: 'wrong',
    }),
  ),
  tokenCase('refuses an unknown user with 400 invalid_grant', () =>
    post({ grant_type: 'password', client_id: interactive.clientId, username: 'nobody', password: 'wrong' }),
  ),
  tokenCase('refuses the password grant without a username', () =>
    post({ grant_type: 'password', client_id: interactive.clientId }),
  ),
  tokenCase(
    'refuses an unknown realm with 404',
    () => post({ grant_type: 'client_credentials' }),
    '/realms/nowhere/protocol/openid-connect/token',
  ),
  tokenCase('refuses a POST without a body or content type with 400 (missing grant_type)', () => ({
    method: 'POST',
  })),
  tokenCase('refuses a JSON body with 400 (read as a form without grant_type)', () => ({
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ grant_type: 'client_credentials' }),
  })),
  {
    name: 'unknown realm: discovery, JWKS and realm info answer 404',
    run: (target) =>
      Promise.all([
        exchange(target, '/realms/nowhere/.well-known/openid-configuration'),
        exchange(target, '/realms/nowhere/protocol/openid-connect/certs'),
        exchange(target, '/realms/nowhere'),
      ]),
  },
  {
    name: 'a realm name that is not percent-encoded UTF-8 answers as any unknown realm',
    run: (target) =>
      Promise.all([
        exchange(target, '/realms/%E0/.well-known/openid-configuration'),
        exchange(target, '/realms/%E0%A4/protocol/openid-connect/certs'),
      ]),
  },
  tokenCase('refuses client_secret_basic credentials that are not percent-encoded UTF-8', () =>
    // as sent, not through basic(): the halves themselves are bad form encoding
    post({ grant_type: 'client_credentials' }, `Basic ${Buffer.from('%E0:%E0').toString('base64')}`),
  ),
  tokenCase("takes the form's client over the Basic header's when both are given", () =>
    post(
      {
        grant_type: 'client_credentials',
        client_id: SECOND_CLIENT,
        client_secret: secretOf(SECOND_CLIENT),
      },
      basic(SERVICE_CLIENT, secretOf(SERVICE_CLIENT)),
    ),
  ),
  tokenCase(
    'refuses a parameter given twice with 400 duplicated parameter, once the client is known',
    () => ({
      method: 'POST',
      headers: { 'content-type': FORM },
      body: `grant_type=client_credentials&grant_type=client_credentials&client_id=${SERVICE_CLIENT}&client_secret=${encodeURIComponent(secretOf(SERVICE_CLIENT))}`,
    }),
  ),
  tokenCase(
    'reads the first of two client secrets (client authentication comes before the duplicate check)',
    () => ({
      method: 'POST',
      headers: { 'content-type': FORM },
      body: `grant_type=client_credentials&client_id=${SERVICE_CLIENT}&client_secret=x&client_secret=${encodeURIComponent(secretOf(SERVICE_CLIENT))}`,
    }),
  ),
  {
    name: 'an unknown path under a realm answers 404',
    run: (target) => exchange(target, `/realms/${REALM}/protocol/openid-connect/nothing-here`),
  },
  {
    name: 'introspection by an unknown client: 401 invalid_client',
    run: async (target) =>
      exchange(target, INTROSPECT_PATH, post({ token: 'garbage', client_id: 'nobody', client_secret: 'x' })),
  },
  {
    name: 'introspection of a fresh service-account token by its own client: inactive (not in its audience)',
    run: async (target) =>
      exchange(
        target,
        INTROSPECT_PATH,
        post({
          token: await serviceToken(target),
          client_id: SERVICE_CLIENT,
          client_secret: secretOf(SERVICE_CLIENT),
        }),
      ),
  },
  {
    name: 'introspection with client_secret_basic of a password-grant token: inactive',
    run: async (target) =>
      exchange(
        target,
        INTROSPECT_PATH,
        post({ token: await passwordToken(target) }, basic(SECOND_CLIENT, secretOf(SECOND_CLIENT))),
      ),
  },
  {
    name: 'introspection of garbage: inactive',
    run: (target) =>
      exchange(
        target,
        INTROSPECT_PATH,
        post({ token: 'garbage', client_id: SERVICE_CLIENT, client_secret: secretOf(SERVICE_CLIENT) }),
      ),
  },
  {
    name: 'introspection refusals: wrong secret, no credentials, public client, no token',
    run: async (target) => {
      const token = await serviceToken(target);
      return Promise.all([
        exchange(target, INTROSPECT_PATH, post({ token, client_id: SERVICE_CLIENT, client_secret: 'wrong' })),
        exchange(target, INTROSPECT_PATH, post({ token })),
        exchange(target, INTROSPECT_PATH, post({ token, client_id: interactive.clientId })),
        exchange(
          target,
          INTROSPECT_PATH,
          post({ client_id: SERVICE_CLIENT, client_secret: secretOf(SERVICE_CLIENT) }),
        ),
      ]);
    },
  },
  {
    name: 'health on the management port',
    run: async (target) => {
      const response = await fetch(`${target.managementUrl}/health/ready`);
      return {
        status: response.status,
        contentType: response.headers.get('content-type'),
        body: (await response.json()) as unknown,
      };
    },
  },
  {
    name: 'admin-cli token in master (lightweight: no sub, aud or roles)',
    run: async (target) =>
      tokenResponseView(
        await exchange(
          target,
          '/realms/master/protocol/openid-connect/token',
          post({ grant_type: 'password', client_id: 'admin-cli', ...target.admin }),
        ),
        ['typ', 'azp', 'scope'],
        'type',
      ),
  },
  tokenCase(
    'refuses a wrong admin password',
    () =>
      post({ grant_type: 'password', client_id: 'admin-cli', username: 'admin-nobody', password: 'wrong' }),
    '/realms/master/protocol/openid-connect/token',
  ),
  {
    name: 'admin API refusals: no token, a garbage token, an unknown realm, an unknown component',
    run: async (target) => [
      await exchange(target, `/admin/realms/${REALM}/components`),
      await exchange(target, `/admin/realms/${REALM}/components`, {
        headers: { authorization: 'Bearer garbage' },
      }),
      await adminExchange(target, '/admin/realms/nowhere/components'),
      await adminExchange(target, `/admin/realms/${REALM}/components/nope`, {
        method: 'PUT',
        body: JSON.stringify({
          name: 'x',
          providerId: 'rsa',
          providerType: 'org.keycloak.keys.KeyProvider',
          config: {},
        }),
      }),
    ],
  },
  {
    name: 'admin API: the realm key providers (private key masked), by type and by name',
    run: async (target) => {
      const view = (answer: Exchange) => ({
        ...answer,
        body: (answer.body as { id: string; parentId: string; name: string }[])
          .map(({ id, parentId, ...component }) => ({
            ...component,
            id: typeof id,
            parentId: typeof parentId,
          }))
          .sort((a, b) => a.name.localeCompare(b.name)),
      });
      return [
        view(
          await adminExchange(target, `/admin/realms/${REALM}/components?type=org.keycloak.keys.KeyProvider`),
        ),
        view(await adminExchange(target, `/admin/realms/${REALM}/components?name=hmac-generated`)),
      ];
    },
  },
  {
    name: 'admin API refuses a component with an undecodable key or an unknown provider',
    run: async (target) => {
      const realm = (await adminExchange(target, `/admin/realms/${REALM}`)).body as { id: string };
      const component = (providerId: string, config: Record<string, string[]>) =>
        JSON.stringify({
          name: `bad-${providerId}`,
          providerId,
          providerType: 'org.keycloak.keys.KeyProvider',
          parentId: realm.id,
          config,
        });
      return [
        await adminExchange(target, `/admin/realms/${REALM}/components`, {
          method: 'POST',
          body: component('rsa', { privateKey: ['garbage'] }),
        }),
        await adminExchange(target, `/admin/realms/${REALM}/components`, {
          method: 'POST',
          body: component('nope', {}),
        }),
      ];
    },
  },
];

/**
 * The key rotation of packages/fixtures README, driven by @keycloak/keycloak-admin-client: add the next
 * generation's provider, mint, disable the old one. Changes the realm: run it last.
 */
export const ROTATION_CASE: DifferentialCase = {
  name: 'key rotation through @keycloak/keycloak-admin-client: add, list, disable an rsa provider',
  run: async (target) => {
    const plan = await keyRotationPlan(policy, DEFAULT_SECRETS, 'gen-2');
    const kids = async () =>
      ((await exchange(target, CERTS_PATH)).body as { keys: { kid: string }[] }).keys
        .map((key) => key.kid)
        .sort();
    const kidBefore = decodeProtectedHeader(await serviceToken(target)).kid;

    const admin = new KcAdminClient({ baseUrl: target.baseUrl, realmName: 'master' });
    await admin.auth({ grantType: 'password', clientId: 'admin-cli', ...target.admin });
    admin.setConfig({ realmName: REALM });
    const realm = await admin.realms.findOne({ realm: REALM });
    const { subComponents: _none, ...provider } = plan.keycloakProvider;
    const created = await admin.components.create({ ...provider, parentId: realm?.id });
    const kidsAfterAdd = await kids();
    const kidAfterAdd = decodeProtectedHeader(await serviceToken(target)).kid;
    const added = await admin.components.findOne({ id: created.id });

    const [retired] = await admin.components.find({ name: plan.retireProvider });
    await admin.components.update(
      { id: retired?.id as string },
      { ...retired, config: { ...retired?.config, enabled: ['false'] } },
    );
    const [afterDisable] = await admin.components.find({ name: plan.retireProvider });
    return {
      realm: { id: typeof realm?.id, realm: realm?.realm },
      createdId: typeof created.id,
      kidBefore,
      kidsAfterAdd,
      kidAfterAdd,
      added: { ...added, id: typeof added?.id, parentId: added?.parentId === realm?.id },
      retiredConfig: afterDisable?.config,
      kidsAfterDisable: await kids(),
      kidAfterDisable: decodeProtectedHeader(await serviceToken(target)).kid,
    };
  },
};
