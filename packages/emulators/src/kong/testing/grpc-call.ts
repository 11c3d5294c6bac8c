import { connect, constants, type IncomingHttpHeaders } from 'node:http2';

// One raw gRPC call over HTTP/2 cleartext, returning the wire as it came: headers (and whether they ended the
// stream: a trailers-only answer), body bytes and trailers.

export interface GrpcWireAnswer {
  headers: IncomingHttpHeaders;
  trailersOnly: boolean;
  body: Buffer;
  trailers: IncomingHttpHeaders;
}

/** `headers` override the defaults; an empty value removes one. */
export function grpcCall(
  address: string,
  path: string,
  body: Uint8Array,
  headers: Record<string, string> = {},
): Promise<GrpcWireAnswer> {
  return new Promise((resolve, reject) => {
    const session = connect(`http://${address}`);
    session.on('error', reject);
    const sent: Record<string, string> = {
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
      ...headers,
    };
    // an empty value leaves the header out (te: '' sends a call without te)
    for (const [name, value] of Object.entries(sent)) if (value === '') delete sent[name];
    const stream = session.request(sent);
    const answer: GrpcWireAnswer = { headers: {}, trailersOnly: false, body: Buffer.alloc(0), trailers: {} };
    const chunks: Buffer[] = [];
    stream.on('response', (received, flags) => {
      answer.headers = received;
      answer.trailersOnly = (flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0;
    });
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('trailers', (trailers) => {
      answer.trailers = trailers;
    });
    stream.on('close', () => {
      answer.body = Buffer.concat(chunks);
      session.close();
      resolve(answer);
    });
    stream.on('error', reject);
    stream.end(body);
  });
}
