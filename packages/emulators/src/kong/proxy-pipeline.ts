import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { PRODUCT_VERSIONS } from '@modelgate/fixtures';
import { DEFAULT_ERROR_MESSAGES, kongErrorBody, kongExitBody } from './error-response.js';
import { forwardGrpc, type GrpcUpstreams } from './grpc-proxy.js';
import { grpcRefusalHeaders } from './grpc-refusal.js';
import { forwardHttp, upstreamHeaders, upstreamPath } from './http-proxy.js';
import type { KongClock } from './kong-clock.js';
import { type KongExit, type KongRequest, type KongRequestContext, kongExitError } from './kong-request.js';
import type { KongSnapshot } from './kong-snapshot.js';
import type { PluginChain } from './plugin-chain.js';
import { isGrpcContentType } from './plugins/model-access-grpc-request.js';
import { normalizeKongPath } from './route-matcher.js';

// One proxied request from start to end, the same for the HTTP/1.1 and the HTTP/2 listeners: route, plugins,
// then the upstream or the refusal, shaped as gRPC when the request is gRPC over HTTP/2 (products.md 1g).

export const KONG_SERVER_HEADER = `kong/${PRODUCT_VERSIONS.kong}`;
export const NO_ROUTE_MESSAGE = 'no Route matched with those values';
export const BAD_UPSTREAM_MESSAGE = DEFAULT_ERROR_MESSAGES[502] as string;

/** Kong's error handler for a failed upstream (kong/error_handlers.lua): gRPC clients get the message too. */
const badUpstream = () => kongExitError(502, BAD_UPSTREAM_MESSAGE, { 'grpc-message': BAD_UPSTREAM_MESSAGE });

type DownstreamRequest = IncomingMessage | Http2ServerRequest;
type DownstreamResponse = ServerResponse | Http2ServerResponse;

export interface ProxyPipelineOptions {
  /** The configuration in force; read once per request, so a swap never changes a request in flight. */
  snapshot: () => KongSnapshot;
  chain: PluginChain;
  grpcUpstreams: GrpcUpstreams;
  clock: KongClock;
}

function readBody(request: DownstreamRequest): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

export class ProxyPipeline {
  constructor(private readonly options: ProxyPipelineOptions) {}

  /** Handles one downstream request; never rejects (failures become Kong's 5xx answers). */
  async handle(request: DownstreamRequest, response: DownstreamResponse, localPort: number): Promise<void> {
    const snapshot = this.options.snapshot();
    const startedAt = this.options.clock.now();
    const requestId = randomBytes(16).toString('hex');
    const httpVersion = request.httpVersionMajor === 2 ? 2 : 1;
    const contentType = request.headers['content-type'];
    const grpcShaped = httpVersion === 2 && isGrpcContentType(contentType);
    const url = new URL(request.url ?? '/', 'http://kong.invalid');
    const host = (request.headers[':authority'] as string | undefined) ?? request.headers.host ?? '';
    // a client that aborts mid-body gets no answer anyway (its socket is gone); the request ends as empty
    const body = await readBody(request).catch(() => Buffer.alloc(0));
    const kongRequest: KongRequest = {
      method: request.method ?? 'GET',
      path: normalizeKongPath(url.pathname),
      query: url.searchParams,
      headers: request.headers,
      httpVersion,
      protocol: grpcShaped ? 'grpc' : 'http',
      body,
      clientIp: request.socket?.remoteAddress?.replace(/^::ffff:/, '') ?? '127.0.0.1',
    };
    const send = (exit: KongExit, extra: Record<string, string> = {}) =>
      this.sendExit(response, exit, requestId, grpcShaped, kongRequest, {
        ...extra,
        ...this.latency(startedAt),
      });

    const match = snapshot.router.match({
      protocol: kongRequest.protocol,
      method: kongRequest.method,
      path: kongRequest.path,
      host,
      headers: request.headers,
    });
    const service = match?.route.service ? snapshot.service(match.route.service.id) : undefined;
    if (!match || !service) return send(kongExitError(404, NO_ROUTE_MESSAGE));

    const context: KongRequestContext = {
      request: kongRequest,
      requestId,
      config: snapshot.config,
      route: match.route,
      service,
      consumer: null,
      credential: null,
      authenticatedJwtToken: null,
      upstreamHeaders: new Map(),
      responseHeaders: new Map(),
      serializeValues: new Map(),
      startedAt,
    };
    const exit = await this.options.chain
      .access(context)
      .catch(() => kongExitError(500, DEFAULT_ERROR_MESSAGES[500] as string));
    const responseExtras = () => ({
      ...Object.fromEntries(context.responseHeaders),
      ...this.upstreamLatency(startedAt),
    });
    if (exit) return send(exit, Object.fromEntries(context.responseHeaders));

    const headers = upstreamHeaders(context, service, host, localPort);
    const path = upstreamPath(service, context, match.matchedPath);
    if (service.protocol === 'grpc' || service.protocol === 'grpcs') {
      if (httpVersion !== 2) return send(badUpstream());
      const outcome = await forwardGrpc(
        this.options.grpcUpstreams,
        { service, path, headers, body, extraHeaders: responseExtras },
        response as Http2ServerResponse,
      );
      if (outcome === 'failed') return send(badUpstream());
      return;
    }
    const abort = new AbortController();
    response.on('close', () => abort.abort());
    const result = await forwardHttp(
      { service, path, method: kongRequest.method, headers, body, extraHeaders: responseExtras },
      response,
      abort.signal,
    );
    if (result.status === 'failed' && !response.headersSent) send(badUpstream());
  }

  private latency(startedAt: number): Record<string, string> {
    return { 'X-Kong-Response-Latency': String(Math.max(0, this.options.clock.now() - startedAt)) };
  }

  private upstreamLatency(startedAt: number): Record<string, string> {
    return {
      Via: `1.1 ${KONG_SERVER_HEADER}`,
      'X-Kong-Proxy-Latency': String(Math.max(0, this.options.clock.now() - startedAt)),
    };
  }

  private sendExit(
    response: DownstreamResponse,
    exit: KongExit,
    requestId: string,
    grpcShaped: boolean,
    request: KongRequest,
    extra: Record<string, string>,
  ): void {
    if (response.headersSent || response.writableEnded) return;
    const common = { ...extra, Server: KONG_SERVER_HEADER, 'X-Kong-Request-Id': requestId };
    if (grpcShaped) {
      (response as Http2ServerResponse).stream.respond(grpcRefusalHeaders(exit, common), { endStream: true });
      return;
    }
    const rendered =
      exit.kind === 'json'
        ? kongExitBody(exit.table)
        : kongErrorBody(exit.message, requestId, request.headers);
    const headers: Record<string, string> = { ...common };
    for (const [name, value] of Object.entries(exit.headers)) {
      if (name.toLowerCase() !== 'grpc-message') headers[name] = value;
    }
    headers['Content-Type'] = rendered.contentType;
    headers['Content-Length'] = String(Buffer.byteLength(rendered.body));
    (response as ServerResponse).writeHead(exit.status, headers);
    (response as ServerResponse).end(request.method === 'HEAD' ? undefined : rendered.body);
  }
}
