import { type KongLogRecord, kongLatencies } from './kong-log-record.js';
import { headerTable } from './kong-request.js';

// kong.log.serialize() at 3.9.3 (kong/pdk/log.lua): the table file-log writes as one JSON line. Values set
// with kong.log.set_serialize_value (the per-model plugin's model and model_version, correlation-id's id) are
// merged at the top level, as edit_result does.

export const REDACTED = 'REDACTED';
const REDACTED_HEADERS = new Set(['authorization', 'proxy-authorization']);

/** The default workspace of a DB-less Kong: one per node, named `default`. */
export interface KongWorkspace {
  id: string;
  name: string;
}

/** kong.request.get_headers(): lower-case names, repeated headers as arrays, credentials redacted. */
function requestHeaders(rawHeaders: readonly string[]): Record<string, string | string[]> {
  const table = headerTable(rawHeaders);
  // log.lua replaces the whole value, repeats and all
  for (const name of REDACTED_HEADERS) if (table[name] !== undefined) table[name] = REDACTED;
  return table;
}

/** kong.request.get_query(): repeated keys as arrays, a key without `=` as true. */
function queryTable(requestUri: string): Record<string, string | boolean | (string | boolean)[]> {
  // no prototype: `?constructor=x` is a key like any other
  const table: Record<string, string | boolean | (string | boolean)[]> = Object.create(null);
  const at = requestUri.indexOf('?');
  if (at < 0) return table;
  for (const pair of requestUri.slice(at + 1).split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const decode = (text: string) => {
      try {
        return decodeURIComponent(text.replace(/\+/g, ' '));
      } catch {
        return text; // ngx.req.get_uri_args keeps a malformed escape as sent
      }
    };
    const key = decode(eq < 0 ? pair : pair.slice(0, eq));
    const value: string | boolean = eq < 0 ? true : decode(pair.slice(eq + 1));
    const existing = table[key];
    if (existing === undefined) table[key] = value;
    else table[key] = Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  return table;
}

/** The serialize table without the route, service and consumer entities (which kongLogLine adds as cached JSON). */
function serializedFields(record: KongLogRecord, workspace: KongWorkspace): Record<string, unknown> {
  const context = record.context;
  const latencies = kongLatencies(record);
  const root: Record<string, unknown> = {
    request: {
      id: record.requestId,
      uri: record.requestUri,
      url: `${record.origin}${record.requestUri}`,
      querystring: queryTable(record.requestUri),
      method: record.request.method,
      headers: requestHeaders(record.request.rawHeaders),
      size: record.requestSize,
    },
    upstream_uri: record.upstreamUri ?? '',
    response: {
      status: record.status,
      headers: headerTable(record.responseHeaders),
      size: record.responseSize,
    },
    latencies: { kong: latencies.kong, proxy: latencies.proxy, request: latencies.request, receive: 0 },
    client_ip: record.request.clientIp,
    started_at: record.startedAt,
    source: record.source === 'service' ? 'upstream' : 'kong',
    workspace: workspace.id,
    workspace_name: workspace.name,
  };
  // var.upstream_status or "": present on every line
  root.upstream_status = record.upstreamStatus === undefined ? '' : String(record.upstreamStatus);
  if (record.tries) root.tries = record.tries;
  if (context) {
    // log.lua takes consumer_id from the credential row (jwt's have none) or ctx.authenticate_consumer (a name
    // nothing sets), so a jwt-authenticated request logs the credential id only
    if (context.credential) root.authenticated_entity = { id: context.credential.id };
    for (const [key, value] of context.serializeValues) root[key] = value;
  }
  return root;
}

/**
 * kong.log.serialize(): the table file-log encodes. Its `request.headers` and `response.headers` (see
 * headerTable) and `request.querystring` (no prototype) may hold a key named `constructor`: read them with
 * `Object.hasOwn`, not their own `hasOwnProperty`.
 */
export function serializeKongLog(record: KongLogRecord, workspace: KongWorkspace): Record<string, unknown> {
  const root = serializedFields(record, workspace);
  const context = record.context;
  if (context) {
    root.route = context.route;
    root.service = context.service;
    if (context.consumer) root.consumer = context.consumer;
  }
  return root;
}

/** Entities as JSON, once per configuration: they do not change while a configuration is in force. */
const entityJson = new WeakMap<object, string>();

function jsonOf(entity: object): string {
  let json = entityJson.get(entity);
  if (json === undefined) {
    json = JSON.stringify(entity);
    entityJson.set(entity, json);
  }
  return json;
}

/** serializeKongLog as one JSON line (no newline), the entities' JSON reused across requests. */
export function kongLogLine(record: KongLogRecord, workspace: KongWorkspace): string {
  const fields = JSON.stringify(serializedFields(record, workspace));
  const context = record.context;
  if (!context) return fields;
  const consumer = context.consumer ? `,"consumer":${jsonOf(context.consumer)}` : '';
  return `${fields.slice(0, -1)},"route":${jsonOf(context.route)},"service":${jsonOf(context.service)}${consumer}}`;
}
