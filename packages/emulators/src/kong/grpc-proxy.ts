import {
  type ClientHttp2Session,
  connect,
  constants,
  type Http2ServerResponse,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
} from 'node:http2';
import type { NormalizedKongService } from '@modelgate/policy';
import type { HeaderList } from './http-proxy.js';
import { headerListOf, headerTable } from './kong-request.js';
import type { RequestBody } from './request-body.js';

// Forwards an admitted gRPC call to a grpc upstream over HTTP/2 cleartext and relays the answer as it comes:
// headers, messages and trailers (or a trailers-only answer as one HEADERS frame with END_STREAM).

/** Owns one HTTP/2 session per upstream address; close() ends them all. */
export class GrpcUpstreams {
  private readonly sessions = new Map<string, ClientHttp2Session>();

  session(service: NormalizedKongService): ClientHttp2Session {
    const authority = `http://${service.host}:${service.port}`;
    const existing = this.sessions.get(authority);
    if (existing && !existing.closed && !existing.destroyed) return existing;
    const session = connect(authority);
    session.on('error', () => this.sessions.delete(authority));
    session.on('close', () => this.sessions.delete(authority));
    this.sessions.set(authority, session);
    return session;
  }

  close(): void {
    for (const session of this.sessions.values()) session.close();
    this.sessions.clear();
  }
}

function withoutPseudo(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!name.startsWith(':') && value !== undefined) out[name] = value;
  }
  return out;
}

/** Relays one call. Resolves 'failed' when the upstream could not be reached or reset the stream before answering. */
export function forwardGrpc(
  upstreams: GrpcUpstreams,
  options: {
    service: NormalizedKongService;
    path: string;
    headers: HeaderList;
    body: RequestBody;
    /** Called with the upstream's status and headers when it answers; returns the headers to send back. */
    respond: (status: number, upstreamHeaders: readonly string[]) => HeaderList;
    /** Counts the message bytes relayed to the client. */
    sent?: (bytes: number) => void;
  },
  response: Http2ServerResponse,
): Promise<'answered' | 'failed' | 'timed-out'> {
  return new Promise((resolve) => {
    let session: ClientHttp2Session;
    try {
      session = upstreams.session(options.service);
    } catch {
      resolve('failed');
      return;
    }
    const headers = headerTable(options.headers);
    delete headers.host;
    const call = session.request({
      ...headers,
      // nginx's grpc_pass always sends it; gRPC C++ servers (TF Serving) refuse a call without it
      te: 'trailers',
      ':method': 'POST',
      ':path': options.path,
      ':scheme': 'http',
      ':authority': `${options.service.host}:${options.service.port}`,
    });
    let answered = false;
    let trailersOnly = false;
    call.on('response', (answer, flags) => {
      answered = true;
      const status = Number(answer[':status'] ?? 200);
      const relayed = options.respond(status, headerListOf(answer));
      if ((flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0) {
        trailersOnly = true;
        response.stream.respond({ ':status': status, ...headerTable(relayed) }, { endStream: true });
        resolve('answered');
        return;
      }
      response.writeHead(status, relayed);
    });
    // the service's timeouts, as Kong sets them on each try (grpc_connect/send/read_timeout): before an answer
    // they give Kong's 504; after its headers went out only the client's stream can be reset, as nginx does
    const timedOut = () => {
      call.close(constants.NGHTTP2_CANCEL);
      if (!answered) return resolve('timed-out');
      response.stream.close(constants.NGHTTP2_INTERNAL_ERROR);
      resolve('answered');
    };
    const { connect_timeout, write_timeout, read_timeout } = options.service;
    if (session.connecting) {
      const connecting = setTimeout(() => {
        session.destroy();
        timedOut();
      }, connect_timeout);
      session.once('connect', () => clearTimeout(connecting));
      call.once('close', () => clearTimeout(connecting));
    }
    call.setTimeout(write_timeout, timedOut);
    call.on('data', (chunk: Buffer) => options.sent?.(chunk.length));
    call.on('response', () => call.pipe(response, { end: false }));
    call.on('trailers', (trailers) => response.addTrailers(withoutPseudo(trailers)));
    call.on('end', () => {
      if (!answered || trailersOnly) return;
      response.end();
      resolve('answered');
    });
    call.on('error', () => {
      if (answered) response.stream.close(constants.NGHTTP2_INTERNAL_ERROR);
      resolve(answered ? 'answered' : 'failed');
    });
    call.on('close', () => {
      if (!answered) resolve('failed');
    });
    response.stream.on('close', () => {
      if (!call.closed) call.close(constants.NGHTTP2_CANCEL);
    });
    // streamed as it comes (grpc_pass does not buffer); a call the client cuts off is cancelled upstream
    options.body.pipeTo(call).then(
      () => call.setTimeout(read_timeout, timedOut),
      () => call.close(constants.NGHTTP2_CANCEL),
    );
  });
}
