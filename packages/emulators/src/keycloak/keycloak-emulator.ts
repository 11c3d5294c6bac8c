import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RealmImport } from '@modelgate/policy';
import { percentDecodeOrKeep } from '../percent-decode.js';
import { adminApi } from './admin-api.js';
import { discoveryDocument } from './discovery.js';
import { introspectionEndpoint } from './introspection.js';
import { realmJwks } from './jwks.js';
import { KeycloakError, refusals, TOKEN_HEADERS } from './keycloak-error.js';
import { DEFAULT_HTTP_HOST } from './keycloak-options.js';
import { activeKey, importRealm, MASTER_REALM, masterRealm, type Realm, RealmStore } from './realm-store.js';
import { tokenEndpoint } from './token-endpoint.js';

const JSON_TYPE = 'application/json';
const JSON_UTF8_TYPE = 'application/json;charset=UTF-8';
const MAX_BODY_BYTES = 1 << 20;
/** The real server sends these with every answer on its HTTP port (not on the management port). */
const SECURITY_HEADERS: Record<string, string> = {
  'referrer-policy': 'no-referrer',
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'SAMEORIGIN',
  'x-robots-tag': 'none',
};
const HEALTH_BODY = `${JSON.stringify(
  {
    status: 'UP',
    checks: [
      { name: 'Graceful Shutdown', status: 'UP' },
      { name: 'Keycloak Initialized', status: 'UP' },
    ],
  },
  null,
  4,
)}`;

export interface KeycloakEmulatorOptions {
  /** Realm imports (`--import-realm`): the JSON the fixtures generate. */
  realms?: RealmImport[];
  /** 0 or absent: a free port. */
  httpPort?: number;
  httpHost?: string;
  /** 0 or absent: a free port. */
  managementPort?: number;
  /** Pins the URLs given out (`--hostname`); a realm's `frontendUrl` still wins for that realm. */
  hostname?: string;
  /** KC_BOOTSTRAP_ADMIN_USERNAME / _PASSWORD. */
  adminUser?: string;
  adminPassword?: string;
}

export interface StartedKeycloakEmulator {
  baseUrl: string;
  managementUrl: string;
}

interface Reply {
  status: number;
  body?: unknown;
  /** Pre-rendered body text (health is pretty-printed by the real server). */
  text?: string;
  headers?: Record<string, string>;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new KeycloakError(413, { error: 'Request Entity Too Large' });
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A body that is not a form reads as an empty form (the real server then misses grant_type: 400). */
async function readForm(request: IncomingMessage): Promise<URLSearchParams> {
  const text = await readBody(request);
  const isForm = (request.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
  return new URLSearchParams(isForm ? text : '');
}

function send(response: ServerResponse, reply: Reply, baseHeaders: Record<string, string>): void {
  const text = reply.text ?? (reply.body === undefined ? '' : JSON.stringify(reply.body));
  const headers: Record<string, string> = {
    ...baseHeaders,
    ...(text ? { 'content-type': JSON_TYPE } : {}),
    ...reply.headers,
  };
  response.writeHead(reply.status, headers);
  response.end(text);
}

/** A Keycloak 26.7.3 stand-in over node:http: the realm endpoints, the admin subset and health. */
export class KeycloakEmulator {
  readonly #options: KeycloakEmulatorOptions;
  readonly #store = new RealmStore();
  #http: Server | undefined;
  #management: Server | undefined;

  constructor(options: KeycloakEmulatorOptions = {}) {
    this.#options = options;
    const admin =
      options.adminUser && options.adminPassword
        ? { username: options.adminUser, password: options.adminPassword }
        : undefined;
    this.#store.add(masterRealm(admin));
    for (const realm of options.realms ?? []) this.#store.add(importRealm(realm));
  }

  get realms(): string[] {
    return this.#store.names();
  }

  async start(): Promise<StartedKeycloakEmulator> {
    if (this.#http) throw new Error('KeycloakEmulator: already started; stop() it first');
    const host = this.#options.httpHost ?? DEFAULT_HTTP_HOST;
    this.#http = createServer((request, response) =>
      this.#serve(request, response, this.#route.bind(this), SECURITY_HEADERS),
    );
    this.#management = createServer((request, response) => this.#serve(request, response, health, {}));
    this.#http.listen(this.#options.httpPort ?? 0, host);
    this.#management.listen(this.#options.managementPort ?? 0, host);
    await Promise.all([once(this.#http, 'listening'), once(this.#management, 'listening')]);
    const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
    return {
      baseUrl: `http://${shown}:${(this.#http.address() as AddressInfo).port}`,
      managementUrl: `http://${shown}:${(this.#management.address() as AddressInfo).port}`,
    };
  }

  async stop(): Promise<void> {
    const servers = [this.#http, this.#management].filter((server): server is Server => server !== undefined);
    this.#http = undefined;
    this.#management = undefined;
    await Promise.all(
      servers.map(async (server) => {
        server.closeAllConnections();
        server.close();
        await once(server, 'close');
      }),
    );
  }

  #serve(
    request: IncomingMessage,
    response: ServerResponse,
    route: (request: IncomingMessage) => Promise<Reply>,
    baseHeaders: Record<string, string>,
  ): void {
    route(request).then(
      (reply) => send(response, reply, baseHeaders),
      (error: unknown) => {
        if (error instanceof KeycloakError) {
          send(response, { status: error.status, body: error.body, headers: error.headers }, baseHeaders);
          return;
        }
        const body = { error: 'unknown_error', error_description: String(error) };
        send(response, { status: 500, body }, baseHeaders);
      },
    );
  }

  #baseUrl(request: IncomingMessage): string {
    return this.#options.hostname ?? `http://${request.headers.host ?? 'localhost'}`;
  }

  #issuer(realm: Realm, request: IncomingMessage): string {
    return `${realm.frontendUrl ?? this.#baseUrl(request)}/realms/${realm.name}`;
  }

  async #route(request: IncomingMessage): Promise<Reply> {
    const url = new URL(request.url ?? '/', 'http://emulator');
    const segments = url.pathname.split('/').filter(Boolean).map(percentDecodeOrKeep);
    if (segments[0] === 'admin' && segments[1] === 'realms')
      return this.#admin(request, url, segments.slice(2));
    if (segments[0] !== 'realms' || segments[1] === undefined) throw refusals.notFound();
    const realm = this.#store.get(segments[1]);
    const rest = segments.slice(2).join('/');
    const issuer = this.#issuer(realm, request);
    if (rest === '') return realmInfo(realm, issuer, request.method);
    if (rest === '.well-known/openid-configuration') {
      return {
        status: 200,
        body: discoveryDocument(issuer),
        headers: { 'cache-control': 'no-cache, must-revalidate, no-transform, no-store' },
      };
    }
    if (rest === 'protocol/openid-connect/certs') {
      return { status: 200, body: realmJwks(realm), headers: { 'cache-control': 'no-cache' } };
    }
    if (rest === 'protocol/openid-connect/token') {
      if (request.method !== 'POST') throw refusals.methodNotAllowed();
      const form = await readForm(request);
      const body = await tokenEndpoint(realm, form, request.headers.authorization, issuer);
      return { status: 200, body, headers: TOKEN_HEADERS };
    }
    if (rest === 'protocol/openid-connect/token/introspect') {
      if (request.method !== 'POST') throw refusals.methodNotAllowed();
      const form = await readForm(request);
      const body = await introspectionEndpoint(realm, form, request.headers.authorization, issuer);
      return { status: 200, body, headers: { 'cache-control': 'no-cache' } };
    }
    throw refusals.notFound();
  }

  async #admin(request: IncomingMessage, url: URL, segments: string[]): Promise<Reply> {
    const text = request.method === 'POST' || request.method === 'PUT' ? await readBody(request) : '';
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      throw refusals.badJson();
    }
    const master = this.#store.get(MASTER_REALM);
    const reply = await adminApi(this.#store, {
      method: request.method ?? 'GET',
      segments,
      query: url.searchParams,
      authorization: request.headers.authorization,
      body,
      baseUrl: this.#baseUrl(request),
      masterIssuer: this.#issuer(master, request),
    });
    const json: Record<string, string> =
      reply.body === undefined ? {} : { 'content-type': JSON_UTF8_TYPE, 'cache-control': 'no-cache' };
    return { status: reply.status, body: reply.body, headers: { ...json, ...reply.headers } };
  }
}

function realmInfo(realm: Realm, issuer: string, method: string | undefined): Reply {
  if (method !== 'GET') throw refusals.methodNotAllowed();
  const publicKey = activeKey(realm, 'rsa')
    .publicKey.export({ type: 'spki', format: 'der' })
    .toString('base64');
  return {
    status: 200,
    body: {
      realm: realm.name,
      public_key: publicKey,
      'token-service': `${issuer}/protocol/openid-connect`,
      'account-service': `${issuer}/account`,
      'tokens-not-before': 0,
    },
    headers: { 'content-type': JSON_UTF8_TYPE, 'cache-control': 'no-cache' },
  };
}

async function health(request: IncomingMessage): Promise<Reply> {
  const path = new URL(request.url ?? '/', 'http://emulator').pathname;
  if (!['/health', '/health/ready', '/health/live', '/health/started'].includes(path)) {
    return { status: 404, text: '' };
  }
  return {
    status: 200,
    text: HEALTH_BODY,
    headers: { 'content-type': 'application/json; charset=UTF-8', 'cache-control': 'no-store' },
  };
}
