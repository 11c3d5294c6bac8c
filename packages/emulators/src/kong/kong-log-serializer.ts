import { type KongLogRecord, kongLatencies } from './kong-log-record.js';
import { headerTable, requestHeaderLines } from './kong-request.js';

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

/**
 * How many header lines kong.request.get_headers and ngx.resp.get_headers read, and how many query arguments
 * kong.request.get_query does: Kong's lua_max_req_headers, lua_max_resp_headers and lua_max_uri_args (100 each
 * by default, kong/globalpatches.lua). The rest are left out of the log (Kong notes "truncated" in its error log).
 */
export const MAX_LOGGED_REQUEST_HEADERS = 100;
export const MAX_LOGGED_RESPONSE_HEADERS = 100;
export const MAX_LOGGED_QUERY_ARGS = 100;

/** kong.request.get_headers(): the first 100 header lines by lower-case name, repeats as arrays, credentials redacted. */
function requestHeaders(request: KongLogRecord['request']): Record<string, string | string[]> {
  const table = headerTable(requestHeaderLines(request), MAX_LOGGED_REQUEST_HEADERS);
  // log.lua replaces the whole value, repeats and all
  for (const name of REDACTED_HEADERS) if (table[name] !== undefined) table[name] = REDACTED;
  return table;
}

/**
 * ngx.resp.get_headers(): what nginx keeps outside its header list comes first and counts towards the 100,
 * `connection` (keep-alive or close, r->keepalive) and `transfer-encoding: chunked` for an answer sent chunked;
 * then the header lines. (nginx also keeps Content-Type and Content-Length outside the list; here they are
 * lines of the answer, which changes which line is left out only past 100.)
 */
function responseHeaders(record: KongLogRecord): Record<string, string | string[]> {
  const extra = ['connection', record.keepAlive === false ? 'close' : 'keep-alive'];
  if (record.chunked) extra.push('transfer-encoding', 'chunked');
  return headerTable(extra.concat(record.responseHeaders), MAX_LOGGED_RESPONSE_HEADERS);
}

const PERCENT = 0x25;
const PLUS = 0x2b;
const SPACE = 0x20;

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  const lower = byte | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

/**
 * A query argument unescaped as lua-nginx-module's ngx_http_lua_unescape_uri does for get_uri_args: `+` is a
 * space, `%` and two hex digits the byte they name, any other `%` itself; it never fails. The bytes are read
 * as UTF-8 (Kong logs them as they are, so an escape that makes no UTF-8 reads here as U+FFFD).
 */
function unescapeArgument(text: string): string {
  if (!text.includes('%')) return text.includes('+') ? text.replaceAll('+', ' ') : text;
  const bytes = Buffer.from(text, 'utf8');
  let length = 0;
  for (let at = 0; at < bytes.length; at++) {
    const byte = bytes[at] as number;
    const high = byte === PERCENT && at + 2 < bytes.length ? hexValue(bytes[at + 1] as number) : -1;
    const low = high < 0 ? -1 : hexValue(bytes[at + 2] as number);
    if (low >= 0) {
      bytes[length++] = high * 16 + low;
      at += 2;
    } else bytes[length++] = byte === PLUS ? SPACE : byte;
  }
  return bytes.toString('utf8', 0, length);
}

/**
 * kong.request.get_query() (ngx.req.get_uri_args): the first 100 arguments with a name, repeated names as
 * arrays, a name without `=` as true; an argument whose name is empty (`=x`, `&&`) is left out.
 */
function queryTable(requestUri: string): Record<string, string | boolean | (string | boolean)[]> {
  // no prototype: `?constructor=x` is a key like any other
  const table: Record<string, string | boolean | (string | boolean)[]> = Object.create(null);
  const at = requestUri.indexOf('?');
  if (at < 0) return table;
  let kept = 0;
  for (const pair of requestUri.slice(at + 1).split('&')) {
    const eq = pair.indexOf('=');
    const key = unescapeArgument(eq < 0 ? pair : pair.slice(0, eq));
    if (key === '') continue;
    const value: string | boolean = eq < 0 ? true : unescapeArgument(pair.slice(eq + 1));
    const existing = table[key];
    if (existing === undefined) table[key] = value;
    else table[key] = Array.isArray(existing) ? [...existing, value] : [existing, value];
    if (++kept === MAX_LOGGED_QUERY_ARGS) break;
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
      headers: requestHeaders(record.request),
      size: record.requestSize,
    },
    upstream_uri: record.upstreamUri ?? '',
    response: {
      status: record.status,
      headers: responseHeaders(record),
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

/** route -> service -> `,"route":{…},"service":{…}` in UTF-8. */
const routeMembersCache = new WeakMap<object, WeakMap<object, Buffer>>();
/** consumer -> `,"consumer":{…}}` in UTF-8. */
const consumerMembersCache = new WeakMap<object, Buffer>();
const CLOSING_BRACE = Buffer.from('}');

/*
 * The entities as the members that end a log line, in UTF-8: once per configuration, since its entities do not
 * change while it is in force, and a line reuses their bytes rather than encode them again (they are about
 * half of it). Kept per route and service, and per consumer, so they take room for what the configuration
 * holds, not for each pairing seen.
 */

/** `,"route":{…},"service":{…}`. */
function routeMembers(context: NonNullable<KongLogRecord['context']>): Buffer {
  let byService = routeMembersCache.get(context.route);
  if (!byService) {
    byService = new WeakMap();
    routeMembersCache.set(context.route, byService);
  }
  let members = byService.get(context.service);
  if (!members) {
    members = Buffer.from(
      `,"route":${JSON.stringify(context.route)},"service":${JSON.stringify(context.service)}`,
    );
    byService.set(context.service, members);
  }
  return members;
}

/** `,"consumer":{…}}`, or just the closing brace without a consumer. */
function consumerMembers(consumer: NonNullable<KongLogRecord['context']>['consumer']): Buffer {
  if (!consumer) return CLOSING_BRACE;
  let members = consumerMembersCache.get(consumer);
  if (!members) {
    members = Buffer.from(`,"consumer":${JSON.stringify(consumer)}}`);
    consumerMembersCache.set(consumer, members);
  }
  return members;
}

/**
 * serializeKongLog as JSON in parts: the request's own fields as an object, and, when a route matched, the
 * entities' members that end the line in place of that object's closing brace (routeMembers, then
 * consumerMembers). file-log appends them as they are (FileLogWriter.appendObject); kongLogLine joins them.
 */
export function kongLogLineParts(
  record: KongLogRecord,
  workspace: KongWorkspace,
): [fields: string, entities?: Buffer, lastEntities?: Buffer] {
  const fields = JSON.stringify(serializedFields(record, workspace));
  const { context } = record;
  if (!context) return [fields];
  return [fields, routeMembers(context), consumerMembers(context.consumer)];
}

/** serializeKongLog as one JSON line (no newline). */
export function kongLogLine(record: KongLogRecord, workspace: KongWorkspace): string {
  const [fields, entities, lastEntities] = kongLogLineParts(record, workspace);
  if (!entities || !lastEntities) return fields;
  return `${fields.slice(0, -1)}${entities.toString('utf8')}${lastEntities.toString('utf8')}`;
}
