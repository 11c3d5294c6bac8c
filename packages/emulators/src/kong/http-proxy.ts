import { createReadStream } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { request as httpRequest } from 'node:http';
import { Http2ServerResponse } from 'node:http2';
import { type NormalizedKongService, PRODUCT_VERSIONS } from '@modelgate/policy';
import { type KongRequestContext, requestHeaderLines } from './kong-request.js';
import { escapeKongUri, nginxHost } from './kong-uri.js';
import type { RequestBody } from './request-body.js';

// Forwards an admitted request to an HTTP upstream over HTTP/1.1, as Kong's balancer does: the upstream URI
// (strip_path, service path), Kong's X-Forwarded-* and X-Kong-Request-Id headers, the plugins' header changes,
// and back the upstream's status, headers and body.

export type DownstreamResponse = ServerResponse | Http2ServerResponse;

/** Kong's product token, as the Server and Via headers name it. */
export const KONG_SERVER_HEADER = `kong/${PRODUCT_VERSIONS.kong}`;

/**
 * Headers as node:http takes and gives them (`rawHeaders`): name, value, name, value..., names as written and
 * repeats kept, so that a relayed header is neither parsed into an object nor validated twice.
 */
export type HeaderList = string[];

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
]);

/** The path Kong sends upstream (path_handling v0). */
export function upstreamPath(
  service: NormalizedKongService,
  context: KongRequestContext,
  matchedPath: string,
): string {
  let path = context.request.path;
  if (context.route.strip_path && matchedPath !== '') {
    path = path.slice(matchedPath.length);
    if (!path.startsWith('/')) path = `/${path}`;
  }
  if (service.path && service.path !== '/') {
    path = service.path.endsWith('/')
      ? service.path + path.slice(1)
      : service.path + (path === '/' ? '' : path);
  }
  // escaped as uri.escape does, then the client's own args, as sent (`?` kept even when they are empty)
  const args = context.request.rawQuery;
  return args === undefined ? escapeKongUri(path) : `${escapeKongUri(path)}?${args}`;
}

/** This hop in a Via header (handler.lua, 3.8 on): the protocol version spoken on that side, then Kong's token. */
function viaHop(http2: boolean): string {
  return `${http2 ? '2' : '1.1'} ${KONG_SERVER_HEADER}`;
}

/** The headers Kong sets on every upstream request itself; the client's own values of these are dropped. */
const KONG_REQUEST_HEADERS = new Set([
  'via',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-forwarded-path',
  'x-real-ip',
  'x-kong-request-id',
]);

/**
 * The request headers for the upstream: the client's as nginx keeps them (requestHeaderLines: an HTTP/2
 * client's cookie fields joined into one, as an HTTP/1.1 upstream takes them, RFC 9113 8.2.3), minus
 * hop-by-hop ones and those Kong or a plugin sets (kong.service.request.set_header replaces every value),
 * then Kong's and the plugins'.
 */
export function upstreamHeaders(
  context: KongRequestContext,
  service: NormalizedKongService,
  downstreamHost: string,
  downstreamPort: number,
): HeaderList {
  const raw = requestHeaderLines(context.request);
  const set = context.upstreamHeaders;
  const headers: HeaderList = [];
  const http2 = context.request.httpVersion === 2;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || KONG_REQUEST_HEADERS.has(lower) || set.has(lower)) continue;
    headers.push(name, raw[i + 1] as string);
  }
  const defaultPort = service.protocol === 'https' || service.protocol === 'grpcs' ? 443 : 80;
  // a plugin's set_header('Host') sets the upstream host, as the PDK does
  const host =
    set.get('host') ??
    (context.route.preserve_host
      ? downstreamHost
      : service.port === defaultPort
        ? service.host
        : `${service.host}:${service.port}`);
  const forwardedFor = context.request.headers['x-forwarded-for'];
  const { clientIp } = context.request;
  headers.push(
    'host',
    host,
    'x-forwarded-for',
    forwardedFor ? `${forwardedFor}, ${clientIp}` : clientIp,
    'x-forwarded-proto',
    'http',
    'x-forwarded-host',
    nginxHost(downstreamHost),
    'x-forwarded-port',
    String(downstreamPort),
    'x-forwarded-path',
    context.request.rawPath ?? context.request.path,
    'x-real-ip',
    clientIp,
    'x-kong-request-id',
    context.requestId,
  );
  // handler.lua (3.8 on): the client's Via, then this hop, named by the client's protocol version
  const via = context.request.headers.via;
  headers.push('via', `${via ? `${via}, ` : ''}${viaHop(http2)}`);
  // nginx's proxy_set_header lines win over a plugin's set_header for the other headers Kong sets itself
  for (const [name, value] of set)
    if (value !== null && !KONG_REQUEST_HEADERS.has(name) && name !== 'host') headers.push(name, value);
  return headers;
}

/** The times header_filter reports (whole milliseconds). */
export interface KongAnswerLatencies {
  /** ctx.KONG_WAITING_TIME: from the upstream called to its headers. */
  upstream: number;
  /** ctx.KONG_PROXY_LATENCY: Kong's own time before it called the upstream (a buffered body's upload included). */
  proxy: number;
}

/**
 * What handler.lua's header_filter (3.8 on, the default `headers`) sets on a proxied answer, in its order:
 * X-Kong-Upstream-Latency and X-Kong-Proxy-Latency (latency_tokens); Via, the upstream's hops then this one,
 * named by the protocol Kong spoke upstream (2 for gRPC); Server, only where the upstream sent none; and
 * X-Kong-Request-Id. Appended to `headers`.
 */
export function addKongAnswerHeaders(
  headers: HeaderList,
  upstream: readonly string[],
  grpc: boolean,
  latencies: KongAnswerLatencies,
  requestId: string,
): void {
  const hops: string[] = [];
  let server = false;
  for (let i = 0; i + 1 < upstream.length; i += 2) {
    const name = (upstream[i] as string).toLowerCase();
    if (name === 'via') hops.push(upstream[i + 1] as string);
    else if (name === 'server') server = true;
  }
  hops.push(viaHop(grpc));
  headers.push(
    'X-Kong-Upstream-Latency',
    String(latencies.upstream),
    'X-Kong-Proxy-Latency',
    String(latencies.proxy),
    'Via',
    hops.join(', '),
  );
  if (!server) headers.push('Server', KONG_SERVER_HEADER);
  headers.push('X-Kong-Request-Id', requestId);
}

/**
 * The upstream's response headers as Kong relays them: hop-by-hop ones dropped, and those Kong sets itself
 * (an ngx.header assignment replaces every value of the name), then Kong's own.
 */
export function relayedHeaders(upstream: readonly string[], kong: readonly string[]): HeaderList {
  const headers: HeaderList = [];
  next: for (let i = 0; i + 1 < upstream.length; i += 2) {
    const name = upstream[i] as string;
    const lower = name.toLowerCase();
    if (lower !== 'content-length' && HOP_BY_HOP.has(lower)) continue;
    for (let k = 0; k < kong.length; k += 2) {
      const own = kong[k] as string;
      if (own.length === name.length && own.toLowerCase() === lower) continue next;
    }
    headers.push(name, upstream[i + 1] as string);
  }
  for (const each of kong) headers.push(each);
  return headers;
}

/** Connection-specific headers HTTP/2 forbids (RFC 9113 8.2.2) besides the hop-by-hop ones. */
const NOT_IN_HTTP2 = new Set(['proxy-connection', 'http2-settings']);

/**
 * A header list as an HTTP/2 answer takes it: node refuses a repeated single-value header (Date, Content-Type,
 * ...) and connection-specific ones, so repeats are joined with ", " as node's own header object joins them
 * (Set-Cookie stays a list) and those headers are left out.
 */
function http2Headers(list: readonly string[]): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = Object.create(null);
  for (let i = 0; i + 1 < list.length; i += 2) {
    const name = (list[i] as string).toLowerCase();
    if (NOT_IN_HTTP2.has(name)) continue;
    const value = list[i + 1] as string;
    const existing = headers[name];
    if (existing === undefined) headers[name] = name === 'set-cookie' ? [value] : value;
    else if (Array.isArray(existing)) existing.push(value);
    else headers[name] = `${existing}, ${value}`;
  }
  return headers;
}

export interface ForwardResult {
  /**
   * The upstream answered (its status), the exchange failed (refused, reset: 502 must be sent if nothing was),
   * or the upstream did not answer within the service's read_timeout (504).
   */
  status: number | 'failed' | 'timed-out';
}

/**
 * Sends the request to the upstream and streams the answer to `response` (the headers `respond` gives), with
 * backpressure both ways. With request buffering (the route's default) the upstream is called only once the
 * whole body has arrived, so a cut-off upload never reaches it; without, the body streams as it comes and a
 * cut-off one aborts the upstream request.
 */
export async function forwardHttp(
  options: {
    service: NormalizedKongService;
    path: string;
    method: string;
    headers: HeaderList;
    body: RequestBody;
    requestBuffering: boolean;
    /** Called with the upstream's status and headers when it answers; returns the headers to send back. */
    respond: (status: number, upstreamHeaders: readonly string[]) => HeaderList;
    /** Called just before the upstream is called: a buffered body has arrived whole by then (the balancer's turn). */
    sending: () => void;
  },
  response: DownstreamResponse,
): Promise<ForwardResult> {
  const buffered = options.requestBuffering ? await options.body.buffered() : undefined;
  const headers = [...options.headers];
  if (buffered) {
    headers.push('content-length', String(buffered.kind === 'memory' ? buffered.data.length : buffered.size));
  } else {
    const declared = options.body.declaredLength;
    if (declared !== undefined) headers.push('content-length', declared);
    else headers.push('transfer-encoding', 'chunked');
  }
  options.sending();
  return new Promise((resolve) => {
    let timedOut = false;
    let answered = false;
    const upstream = httpRequest(
      {
        host: options.service.host,
        port: options.service.port,
        method: options.method,
        path: options.path,
        headers,
      },
      (answer) => {
        const status = answer.statusCode ?? 502;
        const relayed = options.respond(status, answer.rawHeaders);
        try {
          if (response instanceof Http2ServerResponse) response.writeHead(status, http2Headers(relayed));
          else response.writeHead(status, relayed);
        } catch {
          // an answer node cannot relay (a header it refuses): nothing was sent, the caller answers 502
          upstream.destroy();
          resolve({ status: 'failed' });
          return;
        }
        answer.pipe(response as ServerResponse);
        answer.on('end', () => {
          answered = true;
          resolve({ status: answer.statusCode ?? 502 });
        });
        answer.on('error', () => {
          response.destroy();
          resolve({ status: 'failed' });
        });
      },
    );
    // the service's timeouts, as Kong sets them on each try: connecting, between two writes of the request,
    // between two reads of the answer
    const { connect_timeout, write_timeout, read_timeout } = options.service;
    upstream.setTimeout(connect_timeout);
    upstream.once('socket', (socket) => {
      const connected = () => upstream.setTimeout(write_timeout);
      if (socket.connecting) socket.once('connect', connected);
      else connected();
    });
    upstream.once('finish', () => upstream.setTimeout(read_timeout));
    upstream.on('timeout', () => {
      timedOut = true;
      upstream.destroy(new Error('upstream read timeout'));
    });
    // a client gone before the answer ended takes the upstream request with it; after, the socket is reused
    response.once('close', () => {
      if (!answered) upstream.destroy();
    });
    upstream.on('error', () => {
      // after the headers went out Kong can only cut the connection; before, the caller answers 502 or 504
      if (response.headersSent) response.destroy();
      resolve({ status: timedOut ? 'timed-out' : 'failed' });
    });
    if (buffered?.kind === 'memory') upstream.end(buffered.data);
    else if (buffered) {
      const file = createReadStream(buffered.path);
      file.pipe(upstream);
      upstream.once('close', () => {
        file.destroy();
        void buffered.release();
      });
    } else {
      options.body.pipeTo(upstream).catch(() => upstream.destroy());
    }
  });
}
