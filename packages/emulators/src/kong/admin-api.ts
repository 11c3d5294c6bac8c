import type { IncomingMessage, ServerResponse } from 'node:http';
import { KongConfigError, type NormalizedKongConfig, PRODUCT_VERSIONS } from '@modelgate/fixtures';
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

/** Admin API paths and the config section each lists (Kong's DAO name for the error messages). */
const ENTITY_ENDPOINTS: Readonly<Record<string, { section: keyof NormalizedKongConfig; dao: string }>> = {
  services: { section: 'services', dao: 'services' },
  routes: { section: 'routes', dao: 'routes' },
  consumers: { section: 'consumers', dao: 'consumers' },
  plugins: { section: 'plugins', dao: 'plugins' },
  jwts: { section: 'jwt_secrets', dao: 'jwt_secrets' },
  acls: { section: 'acls', dao: 'acls' },
};

const WRITE_VERBS: Readonly<Record<string, string>> = {
  POST: 'create',
  PUT: 'create or update',
  PATCH: 'update',
  DELETE: 'delete',
};

export const EMPTY_CONFIGURATION_MESSAGE = 'no configuration available (empty configuration present)';

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(text)),
    Server: `kong/${PRODUCT_VERSIONS.kong}`,
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
    Server: `kong/${PRODUCT_VERSIONS.kong}`,
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

async function postConfig(
  host: AdminApiHost,
  request: IncomingMessage,
  response: ServerResponse,
  query: URLSearchParams,
) {
  const text = await readText(request);
  if (text === undefined) return sendJson(response, 413, { message: 'Payload too large' });
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
    if (
      parsed !== null &&
      typeof parsed === 'object' &&
      'config' in parsed &&
      typeof parsed.config === 'string'
    ) {
      parsed = JSON.parse(parsed.config);
    }
  } catch (error) {
    sendJson(response, 400, { message: `failed to parse declarative config: ${(error as Error).message}` });
    return;
  }
  try {
    const config = host.replace(parsed);
    sendJson(response, 201, config);
  } catch (error) {
    if (!(error instanceof KongConfigError)) throw error;
    const flatten = ['1', 'true'].includes(query.get('flatten_errors') ?? '');
    sendJson(response, 400, error.adminApiBody({ flattenErrors: flatten }));
  }
}

/** The answer to a GET of an entity list or of one entity (by id, name or username). */
function readEntities(host: AdminApiHost, segments: string[]): [number, unknown] {
  const endpoint = ENTITY_ENDPOINTS[segments[0] ?? ''];
  if (!endpoint) return [404, { message: 'Not found' }];
  const entities = host.current().config[endpoint.section] as unknown as Record<string, unknown>[];
  if (segments.length === 1) return [200, { data: entities, next: null }];
  const key = decodeURIComponent(segments[1] ?? '');
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
    const endpoint = ENTITY_ENDPOINTS[segments[0] ?? ''];
    const verb = WRITE_VERBS[method];
    if (endpoint && verb) {
      return sendJson(response, 405, {
        code: 12,
        name: 'operation unsupported',
        message: `cannot ${verb} '${endpoint.dao}' entities when not using a database`,
      });
    }
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
