import {
  create,
  type DescMethod,
  fromBinary,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from '@bufbuild/protobuf';
import type { GenService, GenServiceMethods } from '@bufbuild/protobuf/codegenv2';
import {
  type ChannelCredentials,
  type ChannelOptions,
  Client,
  credentials,
  Metadata,
  status,
} from '@grpc/grpc-js';
import { DEFAULT_CHANNEL_OPTIONS } from './channel-options.js';
import { GrpcError, toGrpcError } from './grpc-error.js';

export interface CallOptions {
  /** Milliseconds from the start of the call; becomes the gRPC deadline. */
  timeoutMs?: number;
  /** Absolute deadline; wins over timeoutMs. */
  deadline?: Date;
  /** Sent as `authorization: Bearer <token>`. */
  bearerToken?: string;
  metadata?: Metadata | Record<string, string>;
  signal?: AbortSignal;
}

export interface ClientOptions {
  /** Defaults to plaintext (TF Serving and Kong's http2 listener in a local stack). */
  credentials?: ChannelCredentials;
  /** Merged over DEFAULT_CHANNEL_OPTIONS. */
  channelOptions?: ChannelOptions;
  /** Applied to every call that sets no timeout or deadline of its own. */
  defaultTimeoutMs?: number;
  /** Applied to every call that sets no bearer token of its own. */
  bearerToken?: string;
}

type UnaryMethodNames<M extends GenServiceMethods> = {
  [K in keyof M]: M[K]['methodKind'] extends 'unary' ? K : never;
}[keyof M];

/** One Promise-returning function per unary method of the service, named as protobuf-es names them. */
export type PromiseClient<M extends GenServiceMethods> = {
  [K in UnaryMethodNames<M>]: (
    request: MessageInitShape<M[K]['input']>,
    options?: CallOptions,
  ) => Promise<MessageShape<M[K]['output']>>;
} & {
  /** Resolves once the channel is connected; rejects with UNAVAILABLE at the deadline. */
  waitForReady(deadline: Date): Promise<void>;
  close(): void;
};

/** The method path gRPC puts on the wire: `/tensorflow.serving.PredictionService/Predict`. */
export function methodPath(method: DescMethod): string {
  return `/${method.parent.typeName}/${method.name}`;
}

function toMetadata(options: CallOptions, fallbackToken: string | undefined): Metadata {
  const metadata =
    options.metadata instanceof Metadata ? options.metadata.clone() : metadataFromRecord(options.metadata);
  const token = options.bearerToken ?? fallbackToken;
  if (token !== undefined) metadata.set('authorization', `Bearer ${token}`);
  return metadata;
}

function metadataFromRecord(record: Record<string, string> | undefined): Metadata {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(record ?? {})) metadata.set(key, value);
  return metadata;
}

function deadlineOf(options: CallOptions, defaultTimeoutMs: number | undefined): Date | undefined {
  if (options.deadline) return options.deadline;
  const timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
  return timeoutMs === undefined ? undefined : new Date(Date.now() + timeoutMs);
}

function serializer(method: DescMethod): (value: MessageShape<DescMethod['input']>) => Buffer {
  return (value) => {
    const bytes = toBinary(method.input, value);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

/**
 * A typed grpc-js client for a protobuf-es service descriptor, e.g.
 * `createPromiseClient(PredictionService, 'localhost:8500').predict({...}, { timeoutMs: 2000 })`.
 * Failures reject with GrpcError, carrying the status code, message and trailing metadata.
 */
export function createPromiseClient<M extends GenServiceMethods>(
  service: GenService<M>,
  address: string,
  options: ClientOptions = {},
): PromiseClient<M> {
  const client = new Client(address, options.credentials ?? credentials.createInsecure(), {
    ...DEFAULT_CHANNEL_OPTIONS,
    ...options.channelOptions,
  });
  const methods: Record<string, unknown> = {
    waitForReady: (deadline: Date) =>
      new Promise<void>((resolve, reject) => {
        client.waitForReady(deadline, (error) => {
          if (error)
            reject(new GrpcError(status.UNAVAILABLE, `channel to ${address} not ready: ${error.message}`));
          else resolve();
        });
      }),
    close: () => client.close(),
  };
  for (const method of service.methods) {
    if (method.methodKind !== 'unary') continue;
    const path = methodPath(method);
    const serialize = serializer(method);
    const deserialize = (bytes: Buffer) => fromBinary(method.output, bytes);
    methods[method.localName] = (
      init: MessageInitShape<DescMethod['input']>,
      callOptions: CallOptions = {},
    ) =>
      new Promise((resolve, reject) => {
        if (callOptions.signal?.aborted) {
          reject(new GrpcError(status.CANCELLED, 'call aborted before it started', { method: path }));
          return;
        }
        const request = create(method.input, init);
        const deadline = deadlineOf(callOptions, options.defaultTimeoutMs);
        const call = client.makeUnaryRequest(
          path,
          serialize,
          deserialize,
          request,
          toMetadata(callOptions, options.bearerToken),
          deadline === undefined ? {} : { deadline },
          (error, response) => {
            callOptions.signal?.removeEventListener('abort', onAbort);
            if (error) reject(toGrpcError(error, path));
            else resolve(response);
          },
        );
        const onAbort = () => call.cancel();
        callOptions.signal?.addEventListener('abort', onAbort, { once: true });
      });
  }
  return methods as PromiseClient<M>;
}
