import type { TokenChoice } from '../tokens/token-supply.js';

// What a sender needs, as plain data: it crosses into worker threads, and it is what a report records about
// the target. Payloads are serialized once, before the run, and sent as the same bytes every time.

export type TransportSpec =
  | {
      kind: 'grpc';
      /** host:port */
      address: string;
      /** A serialized tensorflow.serving.PredictRequest. */
      body: Uint8Array;
      /** gRPC channels (HTTP/2 connections) to spread requests over. */
      channels: number;
      /** node:http2 with frames built once (lean, the default), or grpc-js's generic client. */
      client?: 'http2' | 'grpc-js';
      timeoutMs: number;
      tokens: TokenChoice | null;
    }
  | {
      kind: 'rest';
      /** The full `:predict` URL. */
      url: string;
      body: Uint8Array;
      /** HTTP/1.1 connections in the pool. */
      connections: number;
      timeoutMs: number;
      tokens: TokenChoice | null;
    };
