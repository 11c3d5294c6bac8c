import { type ClientHttp2Session, connect, constants, type OutgoingHttpHeaders } from 'node:http2';
import { status } from '@grpc/grpc-js';
import { grpcStatusName } from '@modelgate/proto';
import { failure, OK, type RequestOutcome, type SendRequest } from '../engine/request-outcome.js';
import { credentialsPerRequest } from '../tokens/token-supply.js';
import type { Sender } from './sender.js';
import type { TransportSpec } from './transport-spec.js';

// gRPC Predict straight over node:http2, without grpc-js's call stack: the length-prefixed message is framed
// once per run, the headers are built once per token, and each call is one HTTP/2 stream whose grpc-status
// (in the trailers, or in the headers of a trailers-only answer) is the outcome. The answer's bytes are
// read and dropped. Several sessions (HTTP/2 connections), requests spread round robin.

const PREDICT = '/tensorflow.serving.PredictionService/Predict';

/** The gRPC length-prefixed message: flag 0 (uncompressed), 4-byte big-endian length, the bytes. */
export function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(5 + message.byteLength);
  frame[0] = 0;
  frame.writeUInt32BE(message.byteLength, 1);
  frame.set(message, 5);
  return frame;
}

export function http2GrpcSender(spec: Extract<TransportSpec, { kind: 'grpc' }>): Sender {
  const authority = `http://${spec.address}`;
  const sessions: ClientHttp2Session[] = [];

  const session = (index: number): ClientHttp2Session => {
    const slot = index % spec.channels;
    let current = sessions[slot];
    if (!current || current.closed || current.destroyed) {
      current = connect(authority);
      // a failed connection fails its calls; the next call opens a new one
      current.on('error', () => undefined);
      sessions[slot] = current;
    }
    return current;
  };
  const frame = grpcFrame(spec.body);
  const headersOf = (token: string | null): OutgoingHttpHeaders => ({
    [constants.HTTP2_HEADER_METHOD]: 'POST',
    [constants.HTTP2_HEADER_PATH]: PREDICT,
    [constants.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
    te: 'trailers',
    ...(token ? { authorization: `Bearer ${token}` } : {}),
  });
  const credentials = credentialsPerRequest(spec.tokens, headersOf);

  const send: SendRequest = (index) => {
    const { value: headers, bad: badToken } = credentials(index);
    return new Promise<RequestOutcome>((resolve) => {
      let grpcStatus: number | undefined;
      let httpStatus = 0;
      const settle = (outcome: RequestOutcome) => {
        clearTimeout(timer);
        resolve(outcome);
      };
      let stream: ReturnType<ClientHttp2Session['request']>;
      try {
        stream = session(index).request(headers);
      } catch (error) {
        resolve(failure(`transport:${(error as { code?: string }).code ?? (error as Error).name}`));
        return;
      }
      const timer = setTimeout(() => stream.close(constants.NGHTTP2_CANCEL), spec.timeoutMs);
      stream.on('response', (responseHeaders) => {
        httpStatus = Number(responseHeaders[constants.HTTP2_HEADER_STATUS]);
        const inHeaders = responseHeaders['grpc-status'];
        if (inHeaders !== undefined) grpcStatus = Number(inHeaders);
      });
      stream.on('trailers', (trailers) => {
        if (trailers['grpc-status'] !== undefined) grpcStatus = Number(trailers['grpc-status']);
      });
      stream.on('data', () => undefined);
      // a stream of a failed session fails with ERR_HTTP2_STREAM_CANCEL; its cause names why (ECONNREFUSED)
      stream.on('error', (error: NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException }) =>
        settle(failure(`transport:${error.cause?.code ?? error.code ?? error.name}`)),
      );
      stream.on('close', () => {
        if (grpcStatus === undefined) {
          settle(failure(httpStatus ? `http:${httpStatus}` : 'grpc:DEADLINE_EXCEEDED'));
        } else if (grpcStatus === status.OK) {
          settle(badToken ? failure('grpc:OK-with-bad-token') : OK);
        } else {
          settle(
            failure(`grpc:${grpcStatusName(grpcStatus)}`, badToken && grpcStatus === status.UNAUTHENTICATED),
          );
        }
      });
      stream.end(frame);
    });
  };
  return {
    send,
    close: async () => {
      await Promise.all(
        sessions.map(
          (s) =>
            new Promise<void>((resolve) => (s.closed || s.destroyed ? resolve() : s.close(() => resolve()))),
        ),
      );
    },
  };
}
