import type { SendRequest } from '../engine/request-outcome.js';
import { grpcSender } from './grpc-sender.js';
import { http2GrpcSender } from './http2-grpc-sender.js';
import { restSender } from './rest-sender.js';
import type { TransportSpec } from './transport-spec.js';

/** A transport ready to send: one connection pool, owned by whoever made it (close() when done). */
export interface Sender {
  send: SendRequest;
  close(): Promise<void>;
}

export function senderFor(spec: TransportSpec): Sender {
  if (spec.kind === 'rest') return restSender(spec);
  return spec.client === 'grpc-js' ? grpcSender(spec) : http2GrpcSender(spec);
}
