import { Metadata, status } from '@grpc/grpc-js';

/** The name grpc-js gives each status code, e.g. 5 -> NOT_FOUND. */
export function grpcStatusName(code: number): string {
  return status[code] ?? `UNKNOWN_STATUS_${code}`;
}

export interface GrpcErrorOptions {
  /** Full method path, `/package.Service/Method`, when the error came from a call. */
  method?: string;
  metadata?: Metadata;
  cause?: unknown;
}

/**
 * A gRPC failure that keeps the status code, the server's message (`details`) and its trailing metadata.
 * Thrown by our clients and accepted from our server handlers, so that codes cross every layer intact.
 */
export class GrpcError extends Error {
  override readonly name = 'GrpcError';
  readonly code: status;
  readonly details: string;
  readonly metadata: Metadata;
  readonly method: string | undefined;

  constructor(code: status, details: string, options: GrpcErrorOptions = {}) {
    const where = options.method ? ` (${options.method})` : '';
    super(`${grpcStatusName(code)}: ${details}${where}`, { cause: options.cause });
    this.code = code;
    this.details = details;
    this.metadata = options.metadata ?? new Metadata();
    this.method = options.method;
  }

  /** Shape grpc-js expects as a server callback error. */
  toServiceError(): { code: status; details: string; metadata: Metadata } {
    return { code: this.code, details: this.details, metadata: this.metadata };
  }
}

interface ServiceErrorLike {
  code: number;
  details?: string;
  metadata?: Metadata;
}

function isServiceErrorLike(value: unknown): value is ServiceErrorLike {
  return typeof value === 'object' && value !== null && typeof (value as ServiceErrorLike).code === 'number';
}

/** Turns whatever grpc-js reported into a GrpcError, keeping code, details and metadata. */
export function toGrpcError(error: unknown, method?: string): GrpcError {
  if (error instanceof GrpcError) return error;
  if (isServiceErrorLike(error)) {
    return new GrpcError(error.code, error.details ?? String(error), {
      ...(method === undefined ? {} : { method }),
      ...(error.metadata === undefined ? {} : { metadata: error.metadata }),
      cause: error,
    });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new GrpcError(status.UNKNOWN, message, {
    ...(method === undefined ? {} : { method }),
    cause: error,
  });
}
