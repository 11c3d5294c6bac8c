import { createReadStream } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { request as httpRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';
import type { NormalizedKongService } from '@modelgate/policy';
import type { KongRequestContext } from './kong-request.js';
import { escapeKongUri } from './kong-uri.js';
import type { RequestBody } from './request-body.js';

// Forwards an admitted request to an HTTP upstream over HTTP/1.1, as Kong's balancer does: the upstream URI
// (strip_path, service path), Kong's X-Forwarded-* and X-Kong-Request-Id headers, the plugins' header changes,
// and back the upstream's status, headers and body.

export type DownstreamResponse = ServerResponse | Http2ServerResponse;

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

/** The request headers for the upstream: the client's minus hop-by-hop and pseudo-headers, plus Kong's. */
export function upstreamHeaders(
  context: KongRequestContext,
  service: NormalizedKongService,
  downstreamHost: string,
  downstreamPort: number,
): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(context.request.headers as IncomingHttpHeaders)) {
    if (value === undefined || name.startsWith(':') || HOP_BY_HOP.has(name)) continue;
    headers[name] = value;
  }
  const defaultPort = service.protocol === 'https' || service.protocol === 'grpcs' ? 443 : 80;
  headers.host = context.route.preserve_host
    ? downstreamHost
    : service.port === defaultPort
      ? service.host
      : `${service.host}:${service.port}`;
  const forwardedFor = context.request.headers['x-forwarded-for'];
  headers['x-forwarded-for'] = forwardedFor
    ? `${forwardedFor}, ${context.request.clientIp}`
    : context.request.clientIp;
  headers['x-forwarded-proto'] = 'http';
  headers['x-forwarded-host'] = downstreamHost.replace(/:\d+$/, '');
  headers['x-forwarded-port'] = String(downstreamPort);
  headers['x-forwarded-path'] = context.request.rawPath ?? context.request.path;
  headers['x-real-ip'] = context.request.clientIp;
  headers['x-kong-request-id'] = context.requestId;
  for (const [name, value] of context.upstreamHeaders) {
    if (value === null) delete headers[name];
    else headers[name] = value;
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
 * Sends the request to the upstream and streams the answer to `response` (with `extraHeaders` added), with
 * backpressure both ways. With request buffering (the route's default) the upstream is called only once the
 * whole body has arrived, so a cut-off upload never reaches it; without, the body streams as it comes and a
 * cut-off one aborts the upstream request.
 */
export async function forwardHttp(
  options: {
    service: NormalizedKongService;
    path: string;
    method: string;
    headers: OutgoingHttpHeaders;
    body: RequestBody;
    requestBuffering: boolean;
    /** Called with the upstream's status and headers when it answers; returns the headers Kong adds. */
    extraHeaders: (status: number, headers: OutgoingHttpHeaders) => Record<string, string>;
  },
  response: DownstreamResponse,
): Promise<ForwardResult> {
  const buffered = options.requestBuffering ? await options.body.buffered() : undefined;
  const headers = { ...options.headers };
  if (buffered) {
    headers['content-length'] = String(buffered.kind === 'memory' ? buffered.data.length : buffered.size);
  } else {
    const declared = options.body.declaredLength;
    if (declared !== undefined) headers['content-length'] = declared;
    else headers['transfer-encoding'] = 'chunked';
  }
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
        const headers: OutgoingHttpHeaders = {};
        for (const [name, value] of Object.entries(answer.headers)) {
          if (value === undefined || (HOP_BY_HOP.has(name) && name !== 'content-length')) continue;
          headers[name] = value;
        }
        Object.assign(headers, options.extraHeaders(answer.statusCode ?? 502, headers));
        (response as ServerResponse).writeHead(answer.statusCode ?? 502, headers);
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
