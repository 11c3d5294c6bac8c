import { generateKeyPairSync, randomUUID } from 'node:crypto';
import type { RealmImport } from '@modelgate/policy';
import {
  generatedRsaProvider,
  KEY_PROVIDER_TYPE,
  type KeyProvider,
  keyProvider,
  providerActive,
  providerPriority,
} from './key-provider.js';
import { refusals } from './keycloak-error.js';

export const MASTER_REALM = 'master';
export const ADMIN_CLI = 'admin-cli';
/** Keycloak's realm default `accessTokenLifespan`; the master realm keeps it at 60 s. */
const DEFAULT_ACCESS_TOKEN_LIFESPAN = 300;
const MASTER_ACCESS_TOKEN_LIFESPAN = 60;
/** What `default-roles-<realm>` expands to in a new realm. */
const DEFAULT_REALM_ROLES = ['offline_access', 'uma_authorization'];
const DEFAULT_ACCOUNT_ROLES = ['manage-account', 'manage-account-links', 'view-profile'];

export interface Client {
  clientId: string;
  enabled: boolean;
  publicClient: boolean;
  secret: string | undefined;
  serviceAccountsEnabled: boolean;
  directAccessGrantsEnabled: boolean;
  /** The client's `access.token.lifespan` attribute, when set. */
  accessTokenLifespan: number | undefined;
  /** Audiences added by `oidc-audience-mapper`s (access token claim on). */
  audiences: string[];
  /** admin-cli: lightweight access tokens (no sub, aud or roles). */
  lightweightTokens: boolean;
}

export interface User {
  id: string;
  username: string;
  enabled: boolean;
  emailVerified: boolean;
  firstName: string | undefined;
  lastName: string | undefined;
  email: string | undefined;
  password: string | undefined;
  serviceAccountClientId: string | undefined;
  /** Effective realm roles (composites expanded). */
  realmRoles: string[];
  /** Effective roles of the `account` client. */
  accountRoles: string[];
}

export interface Realm {
  id: string;
  name: string;
  enabled: boolean;
  accessTokenLifespan: number;
  /** `attributes.frontendUrl`: pins this realm's issuer whatever the hostname option says. */
  frontendUrl: string | undefined;
  clients: Map<string, Client>;
  users: User[];
  keys: KeyProvider[];
}

function effectiveRoles(
  realmName: string,
  roles: string[],
): { realmRoles: string[]; accountRoles: string[] } {
  const hasDefaults = roles.includes(`default-roles-${realmName}`);
  return {
    realmRoles: [...new Set([...roles, ...(hasDefaults ? DEFAULT_REALM_ROLES : [])])],
    accountRoles: hasDefaults ? [...DEFAULT_ACCOUNT_ROLES] : [],
  };
}

function audiences(
  mappers: { protocolMapper?: string; config?: Record<string, string> }[] | undefined,
): string[] {
  return (mappers ?? [])
    .filter(
      (mapper) =>
        mapper.protocolMapper === 'oidc-audience-mapper' && mapper.config?.['access.token.claim'] !== 'false',
    )
    .map(
      (mapper) => mapper.config?.['included.custom.audience'] ?? mapper.config?.['included.client.audience'],
    )
    .filter((audience): audience is string => typeof audience === 'string' && audience !== '');
}

/** The realm import (the file the fixtures generate, the same the real server imports) as the emulator keeps it. */
export function importRealm(json: RealmImport): Realm {
  const id = json.id ?? randomUUID();
  const name = json.realm ?? '';
  const clients = new Map<string, Client>();
  for (const client of json.clients ?? []) {
    if (!client.clientId) continue;
    const lifespan = client.attributes?.['access.token.lifespan'];
    clients.set(client.clientId, {
      clientId: client.clientId,
      enabled: client.enabled !== false,
      publicClient: client.publicClient === true,
      secret: client.secret,
      serviceAccountsEnabled: client.serviceAccountsEnabled === true,
      directAccessGrantsEnabled: client.directAccessGrantsEnabled === true,
      accessTokenLifespan: lifespan === undefined ? undefined : Number(lifespan),
      audiences: audiences(
        client.protocolMappers as { protocolMapper?: string; config?: Record<string, string> }[],
      ),
      lightweightTokens: false,
    });
  }
  const users = (json.users ?? []).map(
    (user): User => ({
      id: user.id ?? randomUUID(),
      username: (user.username ?? '').toLowerCase(),
      enabled: user.enabled !== false,
      emailVerified: user.emailVerified === true,
      firstName: user.firstName,
      lastName: user.lastName,
      email: user.email,
      password: user.credentials?.find((credential) => credential.type === 'password')?.value,
      serviceAccountClientId: user.serviceAccountClientId,
      ...effectiveRoles(name, user.realmRoles ?? []),
    }),
  );
  const keys = (json.components?.[KEY_PROVIDER_TYPE] ?? []).map((component) => keyProvider(component, id));
  return {
    id,
    name,
    enabled: json.enabled !== false,
    accessTokenLifespan: json.accessTokenLifespan ?? DEFAULT_ACCESS_TOKEN_LIFESPAN,
    frontendUrl: json.attributes?.frontendUrl,
    clients,
    users,
    keys,
  };
}

/** The master realm: `admin-cli` and, when both are given, the bootstrap admin. */
export function masterRealm(admin: { username: string; password: string } | undefined): Realm {
  const id = randomUUID();
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const users: User[] = admin
    ? [
        {
          id: randomUUID(),
          username: admin.username.toLowerCase(),
          enabled: true,
          emailVerified: false,
          firstName: undefined,
          lastName: undefined,
          email: undefined,
          password: admin.password,
          serviceAccountClientId: undefined,
          realmRoles: ['admin', 'create-realm', ...DEFAULT_REALM_ROLES, `default-roles-${MASTER_REALM}`],
          accountRoles: [...DEFAULT_ACCOUNT_ROLES],
        },
      ]
    : [];
  const adminCli: Client = {
    clientId: ADMIN_CLI,
    enabled: true,
    publicClient: true,
    secret: undefined,
    serviceAccountsEnabled: false,
    directAccessGrantsEnabled: true,
    accessTokenLifespan: undefined,
    audiences: [],
    lightweightTokens: true,
  };
  return {
    id,
    name: MASTER_REALM,
    enabled: true,
    accessTokenLifespan: MASTER_ACCESS_TOKEN_LIFESPAN,
    frontendUrl: undefined,
    clients: new Map([[ADMIN_CLI, adminCli]]),
    users,
    keys: [
      generatedRsaProvider(privateKey, id),
      keyProvider(
        {
          name: 'hmac-generated',
          providerId: 'hmac-generated',
          config: { priority: ['100'], algorithm: ['HS512'] },
        },
        id,
      ),
    ],
  };
}

/** The highest-priority active provider with key material of the kind asked for. */
export function activeKey<K extends 'rsa' | 'hmac'>(realm: Realm, kind: K): NonNullable<KeyProvider[K]> {
  const candidates = realm.keys.filter(
    (provider) => provider[kind] !== undefined && providerActive(provider),
  );
  const best = candidates.sort((a, b) => providerPriority(b) - providerPriority(a))[0]?.[kind];
  // A realm without a usable key cannot mint: the real server answers 500 there too.
  if (!best) throw refusals.noActiveKey();
  return best as NonNullable<KeyProvider[K]>;
}

/** The realms one emulator serves; each emulator owns its own store. */
export class RealmStore {
  readonly #realms = new Map<string, Realm>();

  add(realm: Realm): void {
    this.#realms.set(realm.name, realm);
  }

  find(name: string): Realm | undefined {
    return this.#realms.get(name);
  }

  get(name: string): Realm {
    const realm = this.#realms.get(name);
    if (!realm?.enabled) throw refusals.realmMissing();
    return realm;
  }

  names(): string[] {
    return [...this.#realms.keys()];
  }
}
