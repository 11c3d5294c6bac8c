import { jwtVerify } from 'jose';
import {
  componentView,
  KEY_PROVIDER_TYPE,
  keyProvider,
  providerEnabled,
  SECRET_MASK,
} from './key-provider.js';
import { KeycloakError, refusals } from './keycloak-error.js';
import { MASTER_REALM, type Realm, type RealmStore } from './realm-store.js';

export interface AdminRequest {
  method: string;
  /** Path segments after `/admin/realms/`. */
  segments: string[];
  query: URLSearchParams;
  authorization: string | undefined;
  body: unknown;
  /** `http://host:port`, for the Location header. */
  baseUrl: string;
  masterIssuer: string;
}

export interface AdminResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** Checks the bearer token was minted by this emulator's master realm, for a master-realm user. */
async function requireAdmin(store: RealmStore, request: AdminRequest): Promise<void> {
  const token = request.authorization?.match(/^Bearer (.+)$/i)?.[1];
  const master = store.find(MASTER_REALM);
  if (!token || !master) throw refusals.adminUnauthorized();
  for (const provider of master.keys) {
    if (!provider.rsa || !providerEnabled(provider)) continue;
    try {
      await jwtVerify(token, provider.rsa.publicKey, { issuer: request.masterIssuer, algorithms: ['RS256'] });
      return;
    } catch {
      // wrong key or a bad token: try the next key; none verifying is the 401 below
    }
  }
  throw refusals.adminUnauthorized();
}

function realmRepresentation(realm: Realm): Record<string, unknown> {
  return {
    id: realm.id,
    realm: realm.name,
    notBefore: 0,
    defaultSignatureAlgorithm: 'RS256',
    accessTokenLifespan: realm.accessTokenLifespan,
    enabled: realm.enabled,
    sslRequired: 'none',
    attributes: realm.frontendUrl ? { frontendUrl: realm.frontendUrl } : {},
  };
}

interface ComponentInput {
  id?: string;
  name?: string;
  providerId?: string;
  providerType?: string;
  parentId?: string;
  config?: Record<string, string[]>;
}

function componentInput(body: unknown): ComponentInput & { name: string; providerId: string } {
  if (typeof body !== 'object' || body === null) throw refusals.badJson();
  const input = body as ComponentInput;
  if (input.providerType !== undefined && input.providerType !== KEY_PROVIDER_TYPE)
    throw refusals.noSuchProvider();
  if (typeof input.providerId !== 'string') throw refusals.noSuchProvider();
  return { ...input, name: input.name ?? '', providerId: input.providerId };
}

function listComponents(realm: Realm, query: URLSearchParams): AdminResponse {
  const name = query.get('name');
  const type = query.get('type');
  const parent = query.get('parent');
  const found = realm.keys
    .map(componentView)
    .filter(
      (component) =>
        (name === null || component.name === name) &&
        (type === null || component.providerType === type) &&
        (parent === null || component.parentId === parent),
    );
  return { status: 200, body: found };
}

function createComponent(realm: Realm, request: AdminRequest): AdminResponse {
  const provider = keyProvider(componentInput(request.body), realm.id);
  realm.keys.push(provider);
  const location = `${request.baseUrl}/admin/realms/${realm.name}/components/${provider.component.id}`;
  return { status: 201, headers: { location } };
}

/** PUT replaces the config; a masked private key keeps the stored one (as the real server does). */
function updateComponent(realm: Realm, id: string, body: unknown): AdminResponse {
  const index = realm.keys.findIndex((provider) => provider.component.id === id);
  const current = realm.keys[index];
  if (!current) throw refusals.componentMissing();
  const input = componentInput(body);
  const config = { ...(input.config ?? {}) };
  if (config.privateKey?.[0] === SECRET_MASK) config.privateKey = current.component.config.privateKey ?? [];
  const updated = keyProvider({ ...input, id, config }, realm.id);
  // keep generated secrets stable across an update
  realm.keys[index] = { ...updated, hmac: current.hmac ?? updated.hmac };
  return { status: 204 };
}

/**
 * The admin REST subset key rotation needs: `GET /admin/realms/{realm}`, `GET|POST .../components`,
 * `GET|PUT .../components/{id}`. Bearer tokens from the master realm (admin-cli) only.
 */
export async function adminApi(store: RealmStore, request: AdminRequest): Promise<AdminResponse> {
  await requireAdmin(store, request);
  const [realmName, collection, id, ...rest] = request.segments;
  const realm = realmName === undefined ? undefined : store.find(realmName);
  if (!realm) throw refusals.adminRealmMissing();
  if (collection === undefined && request.method === 'GET')
    return { status: 200, body: realmRepresentation(realm) };
  if (collection !== 'components' || rest.length > 0) throw refusals.notFound();
  if (id === undefined) {
    if (request.method === 'GET') return listComponents(realm, request.query);
    if (request.method === 'POST') return createComponent(realm, request);
    throw refusals.methodNotAllowed();
  }
  if (request.method === 'GET') {
    const provider = realm.keys.find((candidate) => candidate.component.id === id);
    if (!provider) throw refusals.componentMissing();
    return { status: 200, body: componentView(provider) };
  }
  if (request.method === 'PUT') return updateComponent(realm, id, request.body);
  throw new KeycloakError(405, { error: 'HTTP 405 Method Not Allowed' });
}
