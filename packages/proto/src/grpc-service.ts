import {
  create,
  type DescMethod,
  type DescService,
  fromBinary,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from '@bufbuild/protobuf';
import type { GenService, GenServiceMethods } from '@bufbuild/protobuf/codegenv2';
import {
  type handleUnaryCall,
  type Server,
  type ServerUnaryCall,
  type ServiceDefinition,
  type sendUnaryData,
  status,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { methodPath } from './grpc-client.js';
import { GrpcError } from './grpc-error.js';

/** The grpc-js ServiceDefinition for a protobuf-es service descriptor (unary and streaming alike). */
export function serviceDefinition(service: DescService): ServiceDefinition {
  const definition: Record<string, ServiceDefinition[string]> = {};
  for (const method of service.methods) {
    definition[method.localName] = {
      path: methodPath(method),
      requestStream: method.methodKind === 'client_streaming' || method.methodKind === 'bidi_streaming',
      responseStream: method.methodKind === 'server_streaming' || method.methodKind === 'bidi_streaming',
      requestSerialize: (value: MessageShape<DescMethod['input']>) => toBuffer(toBinary(method.input, value)),
      requestDeserialize: (bytes: Buffer) => fromBinary(method.input, bytes),
      responseSerialize: (value: MessageShape<DescMethod['output']>) =>
        toBuffer(toBinary(method.output, value)),
      responseDeserialize: (bytes: Buffer) => fromBinary(method.output, bytes),
      originalName: method.name,
    };
  }
  return definition;
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A handler answers with the response (or its init shape) or throws GrpcError to set the status. */
export type UnaryHandler<I extends DescMethod['input'], O extends DescMethod['output']> = (
  request: MessageShape<I>,
  call: ServerUnaryCall<MessageShape<I>, MessageShape<O>>,
) => Promise<MessageInitShape<O>> | MessageInitShape<O>;

export type UnaryHandlers<M extends GenServiceMethods> = {
  [K in keyof M as M[K]['methodKind'] extends 'unary' ? K : never]?: UnaryHandler<
    M[K]['input'],
    M[K]['output']
  >;
};

/**
 * Registers Promise-style handlers on a grpc-js server. Methods without a handler answer UNIMPLEMENTED, as a
 * server built from the same .proto would. A thrown GrpcError keeps its code; anything else becomes UNKNOWN.
 */
export function addUnaryService<M extends GenServiceMethods>(
  server: Server,
  service: GenService<M>,
  handlers: UnaryHandlers<M>,
): void {
  const implementation: UntypedServiceImplementation = {};
  const byName = handlers as Record<
    string,
    UnaryHandler<DescMethod['input'], DescMethod['output']> | undefined
  >;
  for (const method of service.methods) {
    const handler = byName[method.localName];
    if (method.methodKind !== 'unary' || handler === undefined) continue;
    implementation[method.localName] = toGrpcHandler(method, handler);
  }
  server.addService(serviceDefinition(service), implementation);
}

function toGrpcHandler(
  method: DescMethod,
  handler: UnaryHandler<DescMethod['input'], DescMethod['output']>,
): handleUnaryCall<MessageShape<DescMethod['input']>, MessageShape<DescMethod['output']>> {
  return (call, callback: sendUnaryData<MessageShape<DescMethod['output']>>) => {
    Promise.resolve()
      .then(() => handler(call.request, call))
      .then(
        (response) => callback(null, create(method.output, response)),
        (error: unknown) => {
          if (error instanceof GrpcError) {
            callback(error.toServiceError());
            return;
          }
          const details = error instanceof Error ? error.message : String(error);
          callback({ code: status.UNKNOWN, details });
        },
      );
  };
}
