import type { IncomingHttpHeaders } from 'node:http';
import type {
  NormalizedKongConfig,
  NormalizedKongConsumer,
  NormalizedKongRoute,
  NormalizedKongService,
} from '@modelgate/policy';

// One proxied request as the plugins see it (Kong's PDK: kong.request, kong.client, kong.ctx.shared,
// kong.service.request), and how a plugin ends it (kong.response.exit / kong.response.error).

export type KongRequestProtocol = 'http' | 'grpc';

export interface KongRequest {
  method: string;
  /** The normalized path, as kong.request.get_path() returns it. */
  path: string;
  query: URLSearchParams;
  /** The path as the client sent it (ngx.var.request_uri without its args). */
  rawPath?: string;
  /** The query as the client sent it (ngx.var.args), undefined without a `?`. */
  rawQuery?: string;
  headers: IncomingHttpHeaders;
  /** The headers as sent (name, value, ...: names as written, repeats kept, HTTP/2 pseudo-headers included). */
  rawHeaders: readonly string[];
  httpVersion: 1 | 2;
  protocol: KongRequestProtocol;
  /** The body as far as a plugin asked for it (see KongPluginHandler.bodyLimit); empty until then. */
  body: Buffer;
  /** Reads the first `limit + 1` body bytes at most into `body` (rejects with RequestBodyAborted). */
  loadBody?(limit: number): Promise<void>;
  clientIp: string;
}

export interface KongRequestContext {
  request: KongRequest;
  requestId: string;
  config: NormalizedKongConfig;
  route: NormalizedKongRoute;
  service: NormalizedKongService;
  consumer: NormalizedKongConsumer | null;
  credential: { id: string; key: string } | null;
  /** kong.ctx.shared.authenticated_jwt_token, left by jwt for the model-access plugin. */
  authenticatedJwtToken: string | null;
  /** kong.service.request.set_header / clear_header: null removes the header. */
  upstreamHeaders: Map<string, string | null>;
  /** kong.response.set_header from the access phase: sent with the response, refusal or proxied. */
  responseHeaders: Map<string, string>;
  /** kong.log.set_serialize_value. */
  serializeValues: Map<string, string>;
  /** Milliseconds since the epoch when the request arrived. */
  startedAt: number;
}

/** kong.response.exit(status, table): the table as compact JSON (jwt's refusals). */
export interface KongExitJson {
  kind: 'json';
  status: number;
  table: Record<string, string>;
  headers: Record<string, string>;
}

/** kong.response.error(status, message): Kong's error template, or gRPC trailers over gRPC. */
export interface KongExitError {
  kind: 'error';
  status: number;
  message: string;
  headers: Record<string, string>;
  /** Sent by the error handler (an upstream fault): its body's type falls back to Content-Type, then text/plain. */
  errorHandler?: boolean;
}

export type KongExit = KongExitJson | KongExitError;

export function kongExitJson(
  status: number,
  table: Record<string, string>,
  headers: Record<string, string> = {},
): KongExitJson {
  return { kind: 'json', status, table, headers };
}

export function kongExitError(
  status: number,
  message: string,
  headers: Record<string, string> = {},
): KongExitError {
  return { kind: 'error', status, message, headers };
}

/** A request header's first value (kong.request.get_header). */
export function firstHeader(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * An HTTP/2 request's header lines as nginx 1.25 (Kong 3.9's) keeps them: `:authority` becomes a `host` line
 * where it came (ngx_http_v2_parse_authority), the other pseudo-headers none, and the cookie fields one
 * `cookie` line joined with "; ", added once every field has come (ngx_http_v2_construct_cookie_header).
 */
function http2HeaderLines(rawHeaders: readonly string[]): string[] {
  const lines: string[] = [];
  const cookies: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    const value = rawHeaders[i + 1] as string;
    if (name === ':authority') lines.push('host', value);
    else if (name.startsWith(':')) continue;
    else if (name.toLowerCase() === 'cookie') cookies.push(value);
    else lines.push(name, value);
  }
  if (cookies.length > 0) lines.push('cookie', cookies.join('; '));
  return lines;
}

/** The request's header lines as nginx keeps them: as sent over HTTP/1.x, as http2HeaderLines makes them over HTTP/2. */
export function requestHeaderLines(
  request: Pick<KongRequest, 'httpVersion' | 'rawHeaders'>,
): readonly string[] {
  return request.httpVersion === 2 ? http2HeaderLines(request.rawHeaders) : request.rawHeaders;
}

/**
 * A header list (name, value, ...) by name, as kong.request.get_headers and ngx.resp.get_headers give it:
 * lower-case names, repeated headers as arrays, HTTP/2 pseudo-headers left out, at most `maxLines` lines
 * read. A plain object, which V8 keeps in its fast mode (JSON.stringify and spreads of it are quicker than of
 * one without a prototype), unless a name is one Object.prototype has (`constructor`, `__proto__`): then one
 * without a prototype, where such a name is a header like any other. Either way read it with Object.hasOwn.
 */
export function headerTable(
  list: readonly string[],
  maxLines = Number.POSITIVE_INFINITY,
): Record<string, string | string[]> {
  return (
    fillHeaderTable({}, list, maxLines) ??
    (fillHeaderTable(Object.create(null), list, maxLines) as Record<string, string | string[]>)
  );
}

/**
 * How many header names lowerCaseName keeps (more than any client, upstream and plugin set send between them),
 * of at most MAX_KEPT_NAME_LENGTH characters each: a few hundred kilobytes at most, for the process's life.
 */
export const MAX_KEPT_LOWER_CASE_NAMES = 1_000;
const MAX_KEPT_NAME_LENGTH = 64;
const lowerCaseNames = new Map<string, string>();

/**
 * A header name in lower case, the same string each time for the short names seen first (see
 * MAX_KEPT_LOWER_CASE_NAMES). The same few names come on every request and answer, and a table keyed by one
 * made anew each time costs V8 a new string and a string-table lookup per key (with the log's 20-odd header
 * lines, a third of the time it took to make the line's object).
 */
function lowerCaseName(name: string): string {
  let lower = lowerCaseNames.get(name);
  if (lower === undefined) {
    lower = name.toLowerCase();
    if (name.length <= MAX_KEPT_NAME_LENGTH && lowerCaseNames.size < MAX_KEPT_LOWER_CASE_NAMES)
      lowerCaseNames.set(name, lower);
  }
  return lower;
}

/** Fills `table`, or gives up (undefined) at a name its prototype has, which only a table with one can. */
function fillHeaderTable(
  table: Record<string, string | string[]>,
  list: readonly string[],
  maxLines: number,
): Record<string, string | string[]> | undefined {
  let lines = 0;
  for (let i = 0; i + 1 < list.length; i += 2) {
    if ((list[i] as string).startsWith(':')) continue;
    if (lines++ === maxLines) break;
    const name = lowerCaseName(list[i] as string);
    const value = list[i + 1] as string;
    const existing: unknown = table[name];
    if (existing === undefined) table[name] = value;
    else if (typeof existing === 'string') table[name] = [existing, value];
    else if (Array.isArray(existing)) table[name] = [...existing, value];
    else return undefined; // Object.prototype's member, not a header seen before
  }
  return table;
}

/** An object of headers as a header list: pseudo-headers and undefined values left out, arrays as repeats. */
export function headerListOf(headers: Readonly<Record<string, unknown>>): string[] {
  const list: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || name.startsWith(':')) continue;
    if (Array.isArray(value)) for (const each of value) list.push(name, String(each));
    else list.push(name, String(value));
  }
  return list;
}
