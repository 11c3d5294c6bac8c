import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createHttp2Server, type Http2Server, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';

// Local upstreams for the proxy tests: a REST echo server and a raw gRPC (HTTP/2) server, both recording what
// reached them.

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The headers as they arrived: names as written, repeats kept. */
  rawHeaders: string[];
  body: Buffer;
}

export interface TestUpstream {
  port: number;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

function closeServer(server: Server | Http2Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    if ('closeAllConnections' in server) server.closeAllConnections();
  });
}

function listen(server: Server | Http2Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
}

/** Answers every request with 200 and a JSON echo of its method and path (and `responseHeaders`, name, value, ...). */
export async function startEchoUpstream(options: { responseHeaders?: string[] } = {}): Promise<TestUpstream> {
  const requests: RecordedRequest[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      requests.push({
        method: request.method ?? '',
        path: request.url ?? '',
        headers: request.headers,
        rawHeaders: request.rawHeaders,
        body: Buffer.concat(chunks),
      });
      const body = JSON.stringify({ method: request.method, path: request.url });
      response.writeHead(200, [
        'content-type',
        'application/json',
        'x-upstream',
        'echo',
        ...(options.responseHeaders ?? []),
      ]);
      response.end(body);
    });
  });
  const port = await listen(server);
  return { port, requests, close: () => closeServer(server) };
}

/**
 * Refuses a call without `te: trailers` as gRPC C++ servers (TF Serving among them) do: a trailers-only answer
 * with grpc-status 13 `Missing :te header`. Returns whether it refused.
 */
export function refuseWithoutTe(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): boolean {
  if (headers.te === 'trailers') return false;
  stream.respond(
    {
      ':status': 200,
      'content-type': 'application/grpc',
      'grpc-status': '13',
      'grpc-message': 'Missing :te header',
    },
    { endStream: true },
  );
  return true;
}

/** Answers every gRPC call with one empty message, grpc-status 0 and a custom trailer (strict about `te`). */
export async function startRawGrpcUpstream(): Promise<TestUpstream> {
  const requests: RecordedRequest[] = [];
  const server = createHttp2Server();
  const sessions = new Set<import('node:http2').ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });
  server.on('stream', (stream, headers, _flags, rawHeaders: string[]) => {
    if (refuseWithoutTe(stream, headers)) return;
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      requests.push({
        method: String(headers[':method']),
        path: String(headers[':path']),
        headers,
        rawHeaders,
        body: Buffer.concat(chunks),
      });
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () =>
        stream.sendTrailers({ 'grpc-status': '0', 'x-upstream-trailer': 'kept' }),
      );
      stream.end(Buffer.from([0, 0, 0, 0, 0]));
    });
  });
  const port = await listen(server);
  return {
    port,
    requests,
    close: () => {
      for (const session of sessions) session.destroy();
      return closeServer(server);
    },
  };
}
