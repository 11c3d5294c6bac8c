import { status } from '@grpc/grpc-js';
import { GrpcError, TensorCodecError } from '@modelgate/proto';

/** TF Serving cuts gRPC error messages at 1024 characters (model_servers/grpc_status_util.cc). */
export const GRPC_MESSAGE_LIMIT = 1024;
const TRUNCATED_SUFFIX = '...TRUNCATED';

/** HTTP status per gRPC code, as TF Serving's REST server maps them (model_servers/http_server.cc). */
const HTTP_STATUS: ReadonlyMap<status, number> = new Map([
  [status.OK, 200],
  [status.CANCELLED, 499],
  [status.UNKNOWN, 500],
  [status.INVALID_ARGUMENT, 400],
  [status.DEADLINE_EXCEEDED, 504],
  [status.NOT_FOUND, 404],
  [status.ALREADY_EXISTS, 409],
  [status.PERMISSION_DENIED, 403],
  [status.RESOURCE_EXHAUSTED, 429],
  [status.FAILED_PRECONDITION, 400],
  [status.ABORTED, 409],
  [status.OUT_OF_RANGE, 400],
  [status.UNIMPLEMENTED, 501],
  [status.INTERNAL, 500],
  [status.UNAVAILABLE, 503],
  [status.DATA_LOSS, 500],
  [status.UNAUTHENTICATED, 401],
]);

/** The code's name as TensorFlow prints it (`error::Code_Name`): INVALID_ARGUMENT, NOT_FOUND, ... */
export function codeName(code: status): string {
  return status[code] ?? 'UNKNOWN';
}

/** The HTTP status TF Serving's REST API answers for a gRPC code; 500 for anything unlisted. */
export function httpStatusOf(code: status): number {
  return HTTP_STATUS.get(code) ?? 500;
}

/** A message as TF Serving's gRPC layer sends it: at most 1024 characters, then `...TRUNCATED`. */
export function truncateForGrpc(message: string): string {
  return message.length > GRPC_MESSAGE_LIMIT
    ? `${message.slice(0, GRPC_MESSAGE_LIMIT)}${TRUNCATED_SUFFIX}`
    : message;
}

/**
 * A failure with the status TF Serving would give it: the gRPC code travels with the message through every
 * layer (servable lookup, validation, batching, the runner) and becomes a gRPC status or a REST error body.
 */
export class TfServingError extends Error {
  override readonly name = 'TfServingError';

  constructor(
    readonly code: status,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
  }

  /** `INVALID_ARGUMENT: message`, as absl::Status prints itself in logs and start-up failures. */
  toStatusString(): string {
    return `${codeName(this.code)}: ${this.message}`;
  }

  /** The gRPC error a handler throws: the same code, the message truncated as TF Serving truncates it. */
  toGrpcError(): GrpcError {
    return new GrpcError(this.code, truncateForGrpc(this.message));
  }

  static invalidArgument(message: string): TfServingError {
    return new TfServingError(status.INVALID_ARGUMENT, message);
  }

  static notFound(message: string): TfServingError {
    return new TfServingError(status.NOT_FOUND, message);
  }

  static failedPrecondition(message: string): TfServingError {
    return new TfServingError(status.FAILED_PRECONDITION, message);
  }

  static unimplemented(message: string): TfServingError {
    return new TfServingError(status.UNIMPLEMENTED, message);
  }

  static unavailable(message: string): TfServingError {
    return new TfServingError(status.UNAVAILABLE, message);
  }

  static internal(message: string): TfServingError {
    return new TfServingError(status.INTERNAL, message);
  }
}

/**
 * Any failure as a TfServingError: a codec refusal keeps its status (INVALID_ARGUMENT, UNIMPLEMENTED); foreign
 * errors become UNKNOWN with their message, as TF's Status does.
 */
export function asTfServingError(error: unknown): TfServingError {
  if (error instanceof TfServingError) return error;
  if (error instanceof TensorCodecError)
    return new TfServingError(error.grpcCode, error.message, { cause: error });
  const message = error instanceof Error ? error.message : String(error);
  return new TfServingError(status.UNKNOWN, message, { cause: error });
}
