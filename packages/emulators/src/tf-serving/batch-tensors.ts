import { elementCount, type Tensor } from '@modelgate/proto';

// Merging request tensors along dim 0 into one batch, and splitting the batch's outputs back, as TF Serving's
// BatchingSession does with tensor::Concat and tensor::Split (batching/batching_session.cc).

type Values = Tensor['values'];

function concatValues(parts: readonly Values[]): Values {
  const [first] = parts;
  if (Array.isArray(first)) return (parts as Uint8Array[][]).flat();
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const Ctor = (first as Exclude<Values, Uint8Array[]>).constructor as new (
    length: number,
  ) => Exclude<Values, Uint8Array[]>;
  const out = new Ctor(total);
  let offset = 0;
  for (const part of parts as Exclude<Values, Uint8Array[]>[]) {
    (out as { set(array: ArrayLike<number | bigint>, offset: number): void }).set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Whether two shapes agree past dim 0. */
export function sameRowShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((size, i) => i === 0 || size === b[i]);
}

/** The tensors stacked along dim 0 (same dtype and row shape, checked by the caller). */
export function concatRows(tensors: readonly Tensor[]): Tensor {
  const [first] = tensors as [Tensor];
  const rows = tensors.reduce((sum, tensor) => sum + (tensor.shape[0] ?? 0), 0);
  return {
    dtype: first.dtype,
    shape: [rows, ...first.shape.slice(1)],
    values: concatValues(tensors.map((tensor) => tensor.values)),
  } as Tensor;
}

/** Rows [start, start + count) of a tensor (copies, so that no response aliases another's buffer). */
export function sliceRows(tensor: Tensor, start: number, count: number): Tensor {
  const rowSize = elementCount(tensor.shape.slice(1));
  const values = tensor.values.slice(start * rowSize, (start + count) * rowSize) as Values;
  return { dtype: tensor.dtype, shape: [count, ...tensor.shape.slice(1)], values } as Tensor;
}

/** `count` copies of a tensor's first row: TF Serving pads a batch up to an allowed size with them. */
export function repeatFirstRow(tensor: Tensor, count: number): Tensor {
  const row = sliceRows(tensor, 0, 1);
  return concatRows(Array.from({ length: count }, () => row));
}
