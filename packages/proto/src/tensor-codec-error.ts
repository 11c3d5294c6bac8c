export type TensorCodecErrorCode =
  | 'UNSUPPORTED_DTYPE'
  | 'UNKNOWN_SHAPE'
  | 'SHAPE_MISMATCH'
  | 'CONTENT_SIZE'
  | 'TOO_MANY_VALUES'
  | 'BAD_VALUE'
  | 'BAD_JSON';

/** A tensor that cannot be encoded or decoded as asked; the message says what was expected and what came. */
export class TensorCodecError extends Error {
  override readonly name = 'TensorCodecError';
  constructor(
    readonly code: TensorCodecErrorCode,
    message: string,
    /** The input or output name, when the tensor has one. */
    readonly tensorName?: string,
  ) {
    super(tensorName === undefined ? message : `${tensorName}: ${message}`);
  }
}
