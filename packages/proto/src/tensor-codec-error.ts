import { status } from '@grpc/grpc-js';

export type TensorCodecErrorCode =
  | 'UNSUPPORTED_DTYPE'
  | 'UNKNOWN_SHAPE'
  | 'SHAPE_MISMATCH'
  | 'CONTENT_SIZE'
  | 'TOO_MANY_VALUES'
  | 'BAD_VALUE'
  | 'BAD_JSON';

/**
 * A tensor that cannot be encoded or decoded as asked; the message says what was expected and what came.
 * `grpcCode` is the status TF Serving gives the same failure: INVALID_ARGUMENT, or UNIMPLEMENTED for a dtype
 * that has no conversion (json_tensor.cc's `Conversion of JSON Value ... to type`).
 */
export class TensorCodecError extends Error {
  override readonly name = 'TensorCodecError';
  readonly grpcCode: status;
  constructor(
    readonly code: TensorCodecErrorCode,
    message: string,
    /** The input or output name, when the tensor has one. */
    readonly tensorName?: string,
  ) {
    super(tensorName === undefined ? message : `${tensorName}: ${message}`);
    this.grpcCode = code === 'UNSUPPORTED_DTYPE' ? status.UNIMPLEMENTED : status.INVALID_ARGUMENT;
  }

  /** `INVALID_ARGUMENT: <message>`, as absl::Status prints itself inside TF Serving's nested messages. */
  toStatusString(): string {
    return `${status[this.grpcCode]}: ${this.message}`;
  }
}
