import { randomFillSync } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { isIP } from 'node:net';
import {
  DEFAULT_ERROR_MESSAGES,
  kongErrorBody,
  kongErrorHandlerBody,
  kongExitBody,
  type RenderedBody,
} from './error-response.js';
import { forwardGrpc, type GrpcUpstreams } from './grpc-proxy.js';
import { grpcRefusalHeaders } from './grpc-refusal.js';
import {
  addKongAnswerHeaders,
  forwardHttp,
  type HeaderList,
  KONG_SERVER_HEADER,
  relayedHeaders,
  upstreamHeaders,
  upstreamPath,
} from './http-proxy.js';
import type { KongClock } from './kong-clock.js';
import { type KongLogPlugin, runLogPhase } from './kong-log-plugin.js';
import { elapsedMs, type KongLogRecord } from './kong-log-record.js';
import {
  firstHeader,
  headerListOf,
  type KongExit,
  type KongRequest,
  type KongRequestContext,
  kongExitError,
} from './kong-request.js';
import type { KongSnapshot } from './kong-snapshot.js';
import { nginxHost, normalizeKongPath, splitRequestTarget } from './kong-uri.js';
import type { PluginChain } from './plugin-chain.js';
import { isGrpcContentType } from './plugins/model-access-grpc-request.js';
import { protocolMismatch } from './protocol-mismatch.js';
import { RequestBody, RequestBodyAborted } from './request-body.js';

const EMPTY_BODY = Buffer.alloc(0);

// One proxied request from start to end, the same for the HTTP/1.1 and the HTTP/2 listeners: route, plugins,
// then the upstream or the refusal, shaped as gRPC when the request is gRPC over HTTP/2 (products.md 1g).

export const NO_ROUTE_MESSAGE = 'no Route matched with those values';
export const BAD_UPSTREAM_MESSAGE = DEFAULT_ERROR_MESSAGES[502] as string;
export const UPSTREAM_TIMEOUT_MESSAGE = DEFAULT_ERROR_MESSAGES[504] as string;

/** Kong's error handler for a failed upstream (kong/error_handlers.lua): gRPC clients get the message too. */
const badUpstream = (): KongExit => ({
  ...kongExitError(502, BAD_UPSTREAM_MESSAGE, { 'grpc-message': BAD_UPSTREAM_MESSAGE }),
  errorHandler: true,
});
const upstreamTimeout = (): KongExit => ({
  ...kongExitError(504, UPSTREAM_TIMEOUT_MESSAGE, { 'grpc-message': UPSTREAM_TIMEOUT_MESSAGE }),
  errorHandler: true,
});
/** The balancer's answer when the service's host does not resolve (kong.response.error: gRPC gets the code name). */
export const NAME_RESOLUTION_FAILED_MESSAGE = 'name resolution failed';

type DownstreamRequest = IncomingMessage | Http2ServerRequest;
type DownstreamResponse = ServerResponse | Http2ServerResponse;

export interface ProxyPipelineOptions {
  /** The configuration in force; read once per request, so a swap never changes a request in flight. */
  snapshot: () => KongSnapshot;
  chain: PluginChain;
  grpcUpstreams: GrpcUpstreams;
  clock: KongClock;
  /** The log-phase plugins (file-log, prometheus), run once each response is closed. */
  logPlugins?: readonly KongLogPlugin[];
}

/** ngx.var.request_length without the body, rebuilt: request line, header lines, blank line. */
function requestHeadLength(request: DownstreamRequest): number {
  let size = `${request.method} ${request.url} HTTP/${request.httpVersion}\r\n\r\n`.length;
  const raw = request.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2)
    size += (raw[i] as string).length + (raw[i + 1] as string).length + 4;
  return size;
}

/** The header block of an HTTP/2 answer, counted as HTTP/1.1 would send it (for bytes_sent). */
function headerBytes(status: number, headers: readonly string[]): number {
  let size = `HTTP/1.1 ${status} \r\n\r\n`.length;
  for (let i = 0; i + 1 < headers.length; i += 2)
    size += (headers[i] as string).length + (headers[i + 1] as string).length + 4;
  return size;
}

const UNRESOLVED = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'ENODATA', 'EAI_NONAME']);

/** Whether the balancer can resolve the service's host (Kong's DNS client; here the system resolver). */
async function resolves(host: string): Promise<boolean> {
  try {
    await lookup(host);
    return true;
  } catch (error) {
    if (UNRESOLVED.has((error as NodeJS.ErrnoException).code ?? '')) return false;
    throw error;
  }
}

function renderedExit(exit: KongExit, requestId: string, headers: IncomingHttpHeaders): RenderedBody {
  if (exit.kind === 'json') return kongExitBody(exit.table);
  if (!exit.errorHandler) return kongErrorBody(exit.message, requestId, headers);
  // error_handlers.lua: a gRPC type asked for gets kong.response.exit's table, as JSON outside HTTP/2
  const asked = headers.accept ?? headers['content-type'];
  if (asked?.startsWith('application/grpc')) return kongExitBody({ message: exit.message });
  return kongErrorHandlerBody(exit.message, requestId, headers);
}

function httpStreamGone(response: DownstreamResponse): boolean {
  const stream = (response as Http2ServerResponse).stream;
  return stream ? stream.destroyed || stream.closed : response.destroyed;
}

/**
 * Whether node sent the answer with `Connection: keep-alive`, which is where nginx's r->keepalive ends up too:
 * not for a client's Connection: close, an HTTP/1.0 client without keep-alive, an HTTP/1.0 answer of unknown
 * length (it cannot be chunked), or the last request a connection may carry. node keeps the last two in
 * fields of its own (`_last`, `maxRequestsOnConnectionReached`), not in shouldKeepAlive.
 */
function keptAlive(response: ServerResponse): boolean {
  const internal = response as ServerResponse & { _last?: boolean; maxRequestsOnConnectionReached?: boolean };
  return (
    response.shouldKeepAlive && internal._last !== true && internal.maxRequestsOnConnectionReached !== true
  );
}

/** Kong's request ids (32 hex digits), cut from one buffer of random bytes refilled when used up. */
class RequestIds {
  private readonly pool = Buffer.allocUnsafe(16 * 256);
  private offset = this.pool.length;

  next(): string {
    if (this.offset === this.pool.length) {
      randomFillSync(this.pool);
      this.offset = 0;
    }
    const id = this.pool.toString('hex', this.offset, this.offset + 16);
    this.offset += 16;
    return id;
  }
}

export class ProxyPipeline {
  constructor(private readonly options: ProxyPipelineOptions) {}

  private readonly requestIds = new RequestIds();

  private readonly inFlight = new Set<Promise<void>>();

  /** Resolves when every request started so far has run its log phase. */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
  }

  /** Handles one downstream request; never rejects (failures become Kong's 5xx answers). */
  async handle(request: DownstreamRequest, response: DownstreamResponse, localPort: number): Promise<void> {
    const snapshot = this.options.snapshot();
    const startedAt = this.options.clock.now();
    const arrivedHr = performance.now();
    const requestId = this.requestIds.next();
    const httpVersion = request.httpVersionMajor === 2 ? 2 : 1;
    const contentType = request.headers['content-type'];
    const grpcShaped = httpVersion === 2 && isGrpcContentType(contentType);
    // the request target as sent: a URL parser would read `//foo/...` as a host
    const target = splitRequestTarget(request.url ?? '/');
    const host = (request.headers[':authority'] as string | undefined) ?? request.headers.host ?? '';
    const body = new RequestBody(request, firstHeader(request.headers, 'content-length'));
    const logged = this.logWhenClosed(request, response, snapshot, httpVersion, body);
    const kongRequest: KongRequest = {
      method: request.method ?? 'GET',
      path: normalizeKongPath(target.path),
      query: new URLSearchParams(target.args ?? ''),
      rawQuery: target.args,
      rawPath: target.path,
      headers: request.headers,
      rawHeaders: request.rawHeaders,
      httpVersion,
      protocol: grpcShaped ? 'grpc' : 'http',
      body: EMPTY_BODY,
      loadBody: async (limit) => {
        kongRequest.body = await body.prefix(limit);
      },
      clientIp: request.socket?.remoteAddress?.replace(/^::ffff:/, '') ?? '127.0.0.1',
    };
    const record: KongLogRecord = {
      request: kongRequest,
      requestId,
      requestUri: request.url ?? '/',
      origin: `http://${nginxHost(host)}:${localPort}`,
      requestSize: requestHeadLength(request),
      context: null,
      startedAt,
      arrivedHr,
      source: 'error',
      status: 0,
      responseHeaders: [],
      responseSize: 0,
    };
    logged.attach(record);
    const send = (exit: KongExit, extra: Record<string, string> = {}) => {
      this.sendExit(response, exit, requestId, grpcShaped, record, {
        ...extra,
        ...this.latency(startedAt),
      });
      body.discard();
    };

    const match = snapshot.router.match({
      method: kongRequest.method,
      path: kongRequest.path,
      host,
      headers: request.headers,
    });
    const service = match?.route.service ? snapshot.service(match.route.service.id) : undefined;
    if (!match || !service) return send(kongExitError(404, NO_ROUTE_MESSAGE));
    const mismatch = protocolMismatch(match.route, firstHeader(request.headers, 'content-type'), httpVersion);

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
    record.context = context;
    // set before the plugins run (the runloop's access.before), so a refused request logs them too
    const path = upstreamPath(service, context, match.matchedPath);
    record.upstreamUri = path;
    record.tries = [];
    if (mismatch) {
      record.source = 'exit';
      return send(mismatch);
    }
    let exit: KongExit | undefined;
    // a client that leaves mid-access is logged once the access phase is over (nginx runs the log phase after
    // it), so its line has the consumer jwt found
    logged.accessRunning(true);
    try {
      exit = await this.options.chain.access(context);
    } catch (error) {
      // a client that cut its body off gets no answer (its stream is gone); it is logged as 499
      if (error instanceof RequestBodyAborted) return;
      exit = kongExitError(500, DEFAULT_ERROR_MESSAGES[500] as string);
    } finally {
      logged.accessRunning(false);
    }
    if (exit) {
      record.source = 'exit';
      return send(exit, Object.fromEntries(context.responseHeaders));
    }
    // the upstream answered: its headers less those Kong sets, then the plugins' and Kong's own
    const respond = (status: number, upstream: readonly string[]): HeaderList => {
      record.upstreamAnsweredHr = performance.now();
      record.upstreamStatus = status;
      record.source = 'service';
      record.status = status;
      const kong: HeaderList = [];
      for (const [name, value] of context.responseHeaders) kong.push(name, value);
      const grpc = service.protocol === 'grpc' || service.protocol === 'grpcs';
      // both from the moment the upstream was called (init.lua: balancer ended), as file-log's latencies
      const sent = record.upstreamSentHr ?? record.upstreamAnsweredHr;
      const latencies = {
        upstream: elapsedMs(sent, record.upstreamAnsweredHr),
        proxy: elapsedMs(record.arrivedHr, sent),
      };
      addKongAnswerHeaders(kong, upstream, grpc, latencies, requestId);
      const headers = relayedHeaders(upstream, kong);
      record.responseHeaders = headers;
      return headers;
    };

    const headers = upstreamHeaders(context, service, host, localPort);
    const upstreamFailed = (outcome: 'failed' | 'timed-out') => {
      record.source = 'error';
      return send(outcome === 'timed-out' ? upstreamTimeout() : badUpstream());
    };
    if (isIP(service.host) === 0 && !(await resolves(service.host))) {
      return send(kongExitError(503, NAME_RESOLUTION_FAILED_MESSAGE));
    }
    if (service.protocol === 'grpc' || service.protocol === 'grpcs') {
      if (httpVersion !== 2) return send(badUpstream());
      this.startTry(record, service);
      const outcome = await forwardGrpc(
        this.options.grpcUpstreams,
        {
          service,
          path,
          headers,
          body,
          respond,
          sent: (bytes) => {
            record.responseSize += bytes;
          },
        },
        response as Http2ServerResponse,
      );
      if (outcome !== 'answered') return upstreamFailed(outcome);
      return;
    }
    let result: Awaited<ReturnType<typeof forwardHttp>>;
    try {
      result = await forwardHttp(
        {
          service,
          path,
          method: kongRequest.method,
          headers,
          body,
          requestBuffering: match.route.request_buffering,
          respond,
          // the try starts when the upstream is called: an upload cut off while buffered has none (tries [])
          sending: () => this.startTry(record, service),
        },
        response,
      );
    } catch (error) {
      if (error instanceof RequestBodyAborted) return; // buffered, so the upstream never saw it
      throw error;
    }
    if (typeof result.status !== 'number' && !response.headersSent) upstreamFailed(result.status);
  }

  private startTry(record: KongLogRecord, service: { host: string; port: number }): void {
    record.upstreamSentHr = performance.now();
    const start = this.options.clock.now();
    record.tries = [{ balancer_start: start, balancer_latency: 0, ip: service.host, port: service.port }];
  }

  /**
   * Runs the log phase once the response is closed (sent, refused, or cut by the client or at shutdown), the
   * request's record is attached and no access phase is running, whichever comes last: a request cut while
   * its body was read is logged too.
   */
  private logWhenClosed(
    request: DownstreamRequest,
    response: DownstreamResponse,
    snapshot: KongSnapshot,
    httpVersion: 1 | 2,
    body: RequestBody,
  ): { attach(record: KongLogRecord): void; accessRunning(running: boolean): void } {
    const socket = httpVersion === 1 ? request.socket : undefined;
    const writtenBefore = socket?.bytesWritten ?? 0;
    let writtenAtFinish: number | undefined;
    let attached: KongLogRecord | undefined;
    let closedHr: number | undefined;
    let inAccess = false;
    let resolveDone = () => {};
    const done = new Promise<void>((resolve) => {
      resolveDone = resolve;
    });
    const plugins = this.options.logPlugins ?? [];
    const run = () => {
      const record = attached;
      if (!record || closedHr === undefined || inAccess) return;
      attached = undefined; // once
      record.endedHr = closedHr;
      record.requestSize += body.received;
      if (record.status === 0) record.status = response.headersSent ? response.statusCode : 499;
      if (socket) {
        record.responseSize = (writtenAtFinish ?? socket.bytesWritten) - writtenBefore;
        record.keepAlive = keptAlive(response as ServerResponse);
        record.chunked = (response as ServerResponse).chunkedEncoding;
      } else record.responseSize += headerBytes(record.status, record.responseHeaders);
      runLogPhase(plugins, snapshot.config, record);
      resolveDone();
    };
    response.once('finish', () => {
      writtenAtFinish = socket?.bytesWritten;
    });
    response.once('close', () => {
      closedHr = performance.now();
      run();
    });
    this.inFlight.add(done);
    void done.then(() => this.inFlight.delete(done));
    return {
      attach: (record) => {
        attached = record;
        run();
      },
      accessRunning: (running) => {
        inAccess = running;
        run();
      },
    };
  }

  private latency(startedAt: number): Record<string, string> {
    return { 'X-Kong-Response-Latency': String(Math.max(0, this.options.clock.now() - startedAt)) };
  }

  private sendExit(
    response: DownstreamResponse,
    exit: KongExit,
    requestId: string,
    grpcShaped: boolean,
    record: KongLogRecord,
    extra: Record<string, string>,
  ): void {
    if (response.headersSent || response.writableEnded) return;
    if (httpStreamGone(response)) return; // the client went away: nothing can be sent, it is logged as 499
    const request = record.request;
    const common = { ...extra, Server: KONG_SERVER_HEADER, 'X-Kong-Request-Id': requestId };
    record.status = exit.status;
    if (grpcShaped) {
      const headers = grpcRefusalHeaders(exit, common);
      record.responseHeaders = headerListOf(headers);
      (response as Http2ServerResponse).stream.respond(headers, { endStream: true });
      return;
    }
    const rendered = renderedExit(exit, requestId, request.headers);
    const headers: Record<string, string> = { ...common };
    for (const [name, value] of Object.entries(exit.headers)) {
      if (name.toLowerCase() !== 'grpc-message') headers[name] = value;
    }
    headers['Content-Type'] = rendered.contentType;
    headers['Content-Length'] = String(Buffer.byteLength(rendered.body));
    record.responseHeaders = headerListOf(headers);
    (response as ServerResponse).writeHead(exit.status, headers);
    (response as ServerResponse).end(request.method === 'HEAD' ? undefined : rendered.body);
  }
}
