import { connect, constants } from 'node:http2';
import { stack } from './context.js';

// A gRPC call written by hand on HTTP/2: the body exactly as given (several frames, a compressed flag, a
// message grpc-js would never encode), and the answer's status, headers and trailers as they came. grpc-js
// also maps some HTTP statuses (429) to its own codes before reading grpc-status; this does not.

export interface RawGrpcAnswer {
  httpStatus: number;
  grpcStatus: number | null;
  grpcMessage: string | null;
  headers: Record<string, string | string[] | undefined>;
}

/** A length-prefixed gRPC message frame (flag 0: not compressed, unless asked). */
export function grpcFrame(message: Uint8Array, compressed = false): Uint8Array {
  const frame = new Uint8Array(5 + message.length);
  frame[0] = compressed ? 1 : 0;
  new DataView(frame.buffer).setUint32(1, message.length, false);
  frame.set(message, 5);
  return frame;
}

export function rawGrpcCall(
  path: string,
  body: Uint8Array,
  headers: Record<string, string> = {},
): Promise<RawGrpcAnswer> {
  return new Promise((resolve, reject) => {
    const session = connect(`http://${stack.gateway.grpc}`);
    session.on('error', reject);
    const request = session.request({
      [constants.HTTP2_HEADER_METHOD]: 'POST',
      [constants.HTTP2_HEADER_PATH]: path,
      'content-type': 'application/grpc',
      te: 'trailers',
      ...headers,
    });
    let responseHeaders: Record<string, string | string[] | undefined> = {};
    let trailers: Record<string, string | string[] | undefined> = {};
    request.on('response', (received) => {
      responseHeaders = received;
    });
    request.on('trailers', (received) => {
      trailers = received;
    });
    request.on('data', () => {});
    request.on('error', reject);
    request.on('end', () => {
      session.close();
      const pick = (name: string) => {
        const value = trailers[name] ?? responseHeaders[name];
        return typeof value === 'string' ? value : null;
      };
      const grpcStatus = pick('grpc-status');
      resolve({
        httpStatus: Number(responseHeaders[':status']),
        grpcStatus: grpcStatus === null ? null : Number(grpcStatus),
        grpcMessage: pick('grpc-message'),
        headers: { ...responseHeaders, ...trailers },
      });
    });
    request.end(body);
  });
}
