import type { IncomingMessage, ServerResponse } from 'node:http';
import { KongConfigError, type NormalizedKongConfig, PRODUCT_VERSIONS } from '@modelgate/policy';
import { parse as parseYaml } from 'yaml';
import { ownValue } from '../own-value.js';
import { percentDecodeOrKeep } from '../percent-decode.js';
import { KONG_SERVER_HEADER } from './http-proxy.js';
import type { KongSnapshot } from './kong-snapshot.js';
import { RequestBody } from './request-body.js';

// The Admin API and Status API of a DB-less Kong (products.md 1a, 1h): /status and /status/ready, reads of the
// entities, POST /config replacing the whole configuration, and 405 `operation unsupported` for entity writes.

export interface AdminApiHost {
  current(): KongSnapshot;
  /** Validates and swaps in a new configuration; throws KongConfigError as Kong refuses it. */
  replace(config: unknown): NormalizedKongConfig;
  /** Requests the proxy has seen (Kong's server.total_requests). */
  totalRequests(): number;
  /** Open downstream connections. */
  activeConnections(): number;
  /** The prometheus plugin's exposition text (GET /metrics on both APIs). */
  metrics(): Promise<string>;
}

type Handler = (request: IncomingMessage, response: ServerResponse) => Promise<void>;

interface EntityEndpoint {
  section: 'services' | 'routes' | 'consumers' | 'plugins' | 'jwt_secrets' | 'acls';
  /** Kong's DAO name, as the error messages have it. */
  dao: string;
  /** The schema's endpoint_key: what a path segment that is not a UUID names. */
  endpointKey?: string;
}

/** Admin API paths and the config section each lists (endpoint keys from each entity's schema at 3.9.3). */
const ENTITY_ENDPOINTS: Readonly<Record<string, EntityEndpoint>> = {
  services: { section: 'services', dao: 'services', endpointKey: 'name' },
  routes: { section: 'routes', dao: 'routes', endpointKey: 'name' },
  consumers: { section: 'consumers', dao: 'consumers', endpointKey: 'username' },
  plugins: { section: 'plugins', dao: 'plugins', endpointKey: 'instance_name' },
  jwts: { section: 'jwt_secrets', dao: 'jwt_secrets', endpointKey: 'key' },
  acls: { section: 'acls', dao: 'acls' },
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** kong/db/strategies/off: the DAO method each write maps to, by its verb in the 405 message. */
const ENTITY_WRITE_VERBS: Readonly<Record<string, string>> = {
  PUT: 'create or update',
  PATCH: 'update',
  DELETE: 'remove',
};

function operationUnsupported(message: string) {
  return { code: 12, name: 'operation unsupported', message: `${message} when not using a database` };
}

/** The entity endpoint a path's first segment names (own keys only: `/constructor` is no endpoint). */
function entityEndpoint(segment: string | undefined): EntityEndpoint | undefined {
  return ownValue(ENTITY_ENDPOINTS, segment ?? '');
}

/**
 * A write on the DB-less Admin API (kong/api/endpoints.lua, kong/db/dao, kong/db/strategies/off): POST on a
 * collection is `cannot create`; PUT, PATCH and DELETE on an entity name the DAO method, with `by '<key>'` when
 * the path names it by its endpoint key; DELETE of an entity that does not exist is 204 (the DAO selects
 * first). Undefined when the request is not such a write.
 */
function entityWrite(host: AdminApiHost, method: string, segments: string[]): [number, unknown] | undefined {
  const endpoint = entityEndpoint(segments[0]);
  if (!endpoint) return undefined;
  if (segments.length === 1 && method === 'POST')
    return [405, operationUnsupported(`cannot create '${endpoint.dao}' entities`)];
  const verb = ownValue(ENTITY_WRITE_VERBS, method);
  if (segments.length !== 2 || !verb) return undefined;
  const key = percentDecodeOrKeep(segments[1] ?? '');
  const byKey = !UUID.test(key) && endpoint.endpointKey !== undefined;
  if (method === 'DELETE' && !findEntity(host, endpoint, key)) return [204, undefined];
  const by = byKey ? ` by '${endpoint.endpointKey}'` : '';
  return [405, operationUnsupported(`cannot ${verb} '${endpoint.dao}' entities${by}`)];
}

function findEntity(host: AdminApiHost, endpoint: EntityEndpoint, key: string): unknown {
  const entities = host.current().config[endpoint.section] as unknown as Record<string, unknown>[];
  const field = UUID.test(key) ? 'id' : endpoint.endpointKey;
  return field === undefined ? undefined : entities.find((candidate) => candidate[field] === key);
}

export const EMPTY_CONFIGURATION_MESSAGE = 'no configuration available (empty configuration present)';

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(text)),
    Server: KONG_SERVER_HEADER,
  });
  response.end(text);
}

/** nginx_admin_client_max_body_size (kong_defaults.lua): a longer body is refused with 413. */
export const ADMIN_MAX_BODY_BYTES = 10 * 1024 * 1024;

/** The body, or undefined when it is over ADMIN_MAX_BODY_BYTES (nothing past the limit is held). */
async function readText(request: IncomingMessage): Promise<string | undefined> {
  const body = new RequestBody(request);
  const text = await body.prefix(ADMIN_MAX_BODY_BYTES);
  if (text.length > ADMIN_MAX_BODY_BYTES) {
    body.discard();
    return undefined;
  }
  return text.toString('utf8');
}

function statusBody(host: AdminApiHost) {
  const usage = process.memoryUsage();
  const mib = (bytes: number) => `${(bytes / 1048576).toFixed(2)} MiB`;
  return {
    memory: {
      workers_lua_vms: [{ http_allocated_gc: mib(usage.heapUsed), pid: process.pid }],
      lua_shared_dicts: {},
    },
    server: {
      total_requests: host.totalRequests(),
      connections_active: host.activeConnections(),
      connections_accepted: host.totalRequests(),
      connections_handled: host.totalRequests(),
      connections_reading: 0,
      connections_writing: host.activeConnections(),
      connections_waiting: 0,
    },
    configuration_hash: host.current().hash,
  };
}

async function serveMetrics(host: AdminApiHost, response: ServerResponse): Promise<void> {
  const text = await host.metrics();
  response.writeHead(200, {
    'Content-Type': 'text/plain; charset=UTF-8',
    'Content-Length': String(Buffer.byteLength(text)),
    Server: KONG_SERVER_HEADER,
  });
  response.end(text);
}

/** /status and /status/ready, or false when the path is neither. */
function serveStatus(host: AdminApiHost, path: string, method: string, response: ServerResponse): boolean {
  if (method !== 'GET' && method !== 'HEAD') return false;
  if (path === '/status') {
    sendJson(response, 200, statusBody(host));
    return true;
  }
  if (path === '/status/ready') {
    if (host.current().isEmpty) sendJson(response, 503, { message: EMPTY_CONFIGURATION_MESSAGE });
    else sendJson(response, 200, { message: 'ready' });
    return true;
  }
  return false;
}

/** errors:declarative_config({error = ...}): code 14 with Kong's fields, as POST /config refuses a body. */
function unparsableConfig(error: string) {
  return {
    code: 14,
    name: 'invalid declarative configuration',
    message: `declarative config is invalid: {error="${error}"}`,
    fields: { error },
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * declarative:unserialize of a string: JSON first, then YAML (Kong's lyaml; here the `yaml` package, whose
 * error wording differs: see the README's known differences).
 */
function unserialize(text: string): { config: Record<string, unknown> } | { error: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    try {
      parsed = parseYaml(text);
    } catch (error) {
      return { error: `failed parsing declarative configuration: ${(error as Error).message}` };
    }
  }
  if (!isObject(parsed)) return { error: 'failed parsing declarative configuration: expected an object' };
  return { config: parsed };
}

/** kong/api/routes/config.lua's hydrate_config_from_request: the params themselves, their `config`, or the body. */
function requestedConfig(text: string, contentType: string | undefined) {
  let params: Record<string, unknown> = {};
  if (contentType?.startsWith('application/json')) {
    const parsed = unserialize(text);
    if ('config' in parsed) params = parsed.config;
  }
  if (params._format_version !== undefined) return { config: params };
  if (typeof params.config === 'string') return unserialize(params.config);
  if (text.length > 0) return unserialize(text);
  return { missing: true as const };
}

/** The 201 body: the entities of the new configuration by type and id (declarative parse_table's entities). */
function entitiesById(config: NormalizedKongConfig): Record<string, Record<string, unknown>> {
  const entities: Record<string, Record<string, unknown>> = {};
  for (const section of ['services', 'routes', 'consumers', 'plugins', 'jwt_secrets', 'acls'] as const) {
    const list = config[section] as readonly { id: string }[];
    if (list.length === 0) continue;
    entities[section] = Object.fromEntries(list.map((entity) => [entity.id, entity]));
  }
  return entities;
}

async function postConfig(
  host: AdminApiHost,
  request: IncomingMessage,
  response: ServerResponse,
  query: URLSearchParams,
) {
  const text = await readText(request);
  if (text === undefined) return sendJson(response, 413, { message: 'Payload too large' });
  const requested = requestedConfig(text, request.headers['content-type']);
  if ('missing' in requested) {
    return sendJson(response, 400, { message: 'expected a declarative configuration' });
  }
  if ('error' in requested) return sendJson(response, 400, unparsableConfig(requested.error));
  try {
    sendJson(response, 201, entitiesById(host.replace(requested.config)));
  } catch (error) {
    if (!(error instanceof KongConfigError)) throw error;
    const flatten = ['1', 'true', 'on', 'yes'].includes((query.get('flatten_errors') ?? '').toLowerCase());
    sendJson(response, 400, error.adminApiBody({ flattenErrors: flatten }));
  }
}

/** The answer to a GET of an entity list or of one entity (by id, name or username). */
function readEntities(host: AdminApiHost, segments: string[]): [number, unknown] {
  const endpoint = entityEndpoint(segments[0]);
  if (!endpoint) return [404, { message: 'Not found' }];
  const entities = host.current().config[endpoint.section] as unknown as Record<string, unknown>[];
  if (segments.length === 1) return [200, { data: entities, next: null }];
  const key = percentDecodeOrKeep(segments[1] ?? '');
  const entity = entities.find(
    (candidate) => candidate.id === key || candidate.name === key || candidate.username === key,
  );
  if (segments.length === 2 && entity) return [200, entity];
  return [404, { message: 'Not found' }];
}

export function adminApiHandler(host: AdminApiHost): Handler {
  return async (request, response) => {
    const url = new URL(request.url ?? '/', 'http://admin.invalid');
    const method = request.method ?? 'GET';
    const segments = url.pathname.split('/').filter(Boolean);
    if (serveStatus(host, url.pathname, method, response)) return;
    if (url.pathname === '/metrics' && method === 'GET') return serveMetrics(host, response);
    if (url.pathname === '/config' && method === 'POST')
      return postConfig(host, request, response, url.searchParams);
    if (url.pathname === '/' && method === 'GET') {
      return sendJson(response, 200, {
        version: PRODUCT_VERSIONS.kong,
        tagline: 'Welcome to kong',
        configuration: { database: 'off' },
        configuration_hash: host.current().hash,
      });
    }
    const write = entityWrite(host, method, segments);
    if (write?.[0] === 204) {
      response.writeHead(204, { Server: KONG_SERVER_HEADER });
      return void response.end();
    }
    if (write) return sendJson(response, ...write);
    if (method === 'GET' || method === 'HEAD') return sendJson(response, ...readEntities(host, segments));
    return sendJson(response, 405, { message: 'Method not allowed' });
  };
}

export function statusApiHandler(host: AdminApiHost): Handler {
  return async (request, response) => {
    const url = new URL(request.url ?? '/', 'http://status.invalid');
    if (serveStatus(host, url.pathname, request.method ?? 'GET', response)) return;
    if (url.pathname === '/metrics' && request.method === 'GET') return serveMetrics(host, response);
    sendJson(response, 404, { message: 'Not found' });
  };
}
