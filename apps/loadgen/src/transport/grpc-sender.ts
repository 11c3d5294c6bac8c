import { Client, credentials, Metadata, status } from '@grpc/grpc-js';
import { DEFAULT_CHANNEL_OPTIONS, grpcStatusName } from '@modelgate/proto';
import { failure, OK, type SendRequest } from '../engine/request-outcome.js';
import { credentialsPerRequest } from '../tokens/token-supply.js';
import type { Sender } from './sender.js';
import type { TransportSpec } from './transport-spec.js';

// gRPC Predict with the request already serialized: grpc-js's generic client with identity (de)serializers,
// so no protobuf work happens per request and the answer is not decoded (its status is what counts). Several
// channels, each its own HTTP/2 connection, requests spread round robin.

const PREDICT = '/tensorflow.serving.PredictionService/Predict';
const identity = (bytes: Buffer) => bytes;

export function grpcSender(spec: Extract<TransportSpec, { kind: 'grpc' }>): Sender {
  const clients = Array.from(
    { length: spec.channels },
    (_, i) =>
      new Client(spec.address, credentials.createInsecure(), {
        ...DEFAULT_CHANNEL_OPTIONS,
        // a separate subchannel per client, so that channels are separate connections
        'grpc.use_local_subchannel_pool': 1,
        'grpc.channel_id': i,
      } as Record<string, string | number>),
  );
  const body = Buffer.from(spec.body.buffer, spec.body.byteOffset, spec.body.byteLength);
  const metadataFor = credentialsPerRequest(spec.tokens, (token) => {
    const metadata = new Metadata();
    if (token) metadata.set('authorization', `Bearer ${token}`);
    return metadata;
  });
  const send: SendRequest = (index) => {
    const { value: metadata, bad: badToken } = metadataFor(index);
    const client = clients[index % clients.length] as Client;
    return new Promise((resolve) => {
      client.makeUnaryRequest(
        PREDICT,
        identity,
        identity,
        body,
        metadata.clone(),
        { deadline: Date.now() + spec.timeoutMs },
        (error) => {
          if (!error) {
            resolve(badToken ? failure('grpc:OK-with-bad-token') : OK);
            return;
          }
          const code = error.code ?? status.UNKNOWN;
          resolve(failure(`grpc:${grpcStatusName(code)}`, badToken && code === status.UNAUTHENTICATED));
        },
      );
    });
  };
  return {
    send,
    close: async () => {
      for (const client of clients) client.close();
    },
  };
}
