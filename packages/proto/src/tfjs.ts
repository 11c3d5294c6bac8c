// tf.Tensor <-> Tensor / TensorProto, as its own entry point (`@modelgate/proto/tfjs`) so that users who do not
// use tfjs never load it. @tensorflow/tfjs-core is a peer dependency: the caller's copy (and backend) is used.
import * as tf from '@tensorflow/tfjs-core';
import {
  bfloat16BitsToFloat32,
  float32ToBfloat16Bits,
  float32ToHalfBits,
  halfBitsToFloat32,
} from './float16.js';
import type { TensorProto } from './gen/tensorflow/core/framework/tensor_pb.js';
import { DataType } from './gen/tensorflow/core/framework/types_pb.js';
import type { SupportedDataType, Tensor } from './tensor.js';
import { decodeTensor, type EncodeTensorOptions, encodeTensor } from './tensor-codec.js';
import { TensorCodecError } from './tensor-codec-error.js';

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

function int32Values(
  values: ArrayLike<number | bigint>,
  dtype: DataType,
  name: string | undefined,
): Int32Array {
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const value = Number(values[i]);
    if (value < INT32_MIN || value > INT32_MAX) {
      throw new TensorCodecError(
        'BAD_VALUE',
        `${DataType[dtype]} element ${i} is ${values[i]}, outside int32, the widest integer tfjs holds`,
        name,
      );
    }
    out[i] = value;
  }
  return out;
}

/**
 * A tf.Tensor holding the same values. tfjs has float32, int32, bool and string only: float64 narrows to
 * float32, half and bfloat16 widen to float32, and integer types become int32 (refused when a value does not fit).
 */
export function toTfTensor(tensor: Tensor, name?: string): tf.Tensor {
  const { shape } = tensor;
  switch (tensor.dtype) {
    case DataType.DT_FLOAT:
      return tf.tensor(tensor.values, shape, 'float32');
    case DataType.DT_DOUBLE:
      return tf.tensor(Float32Array.from(tensor.values), shape, 'float32');
    case DataType.DT_HALF:
      return tf.tensor(halfBitsToFloat32(tensor.values), shape, 'float32');
    case DataType.DT_BFLOAT16:
      return tf.tensor(bfloat16BitsToFloat32(tensor.values), shape, 'float32');
    case DataType.DT_BOOL:
      return tf.tensor(tensor.values, shape, 'bool');
    case DataType.DT_STRING:
      return tf.tensor(tensor.values, shape, 'string');
    case DataType.DT_INT32:
      return tf.tensor(tensor.values, shape, 'int32');
    default:
      return tf.tensor(int32Values(tensor.values, tensor.dtype, name), shape, 'int32');
  }
}

const DEFAULT_DTYPE: Record<string, SupportedDataType> = {
  float32: DataType.DT_FLOAT,
  int32: DataType.DT_INT32,
  bool: DataType.DT_BOOL,
  string: DataType.DT_STRING,
};

/**
 * Reads a tf.Tensor's values (synchronously) as the given dtype; by default float32 -> DT_FLOAT,
 * int32 -> DT_INT32, bool -> DT_BOOL, string -> DT_STRING. Integer targets refuse values that do not fit.
 */
export function fromTfTensor(tensor: tf.Tensor, dtype?: SupportedDataType, name?: string): Tensor {
  const target = dtype ?? DEFAULT_DTYPE[tensor.dtype];
  if (target === undefined) {
    throw new TensorCodecError(
      'UNSUPPORTED_DTYPE',
      `tfjs dtype ${tensor.dtype} has no TensorProto form here`,
      name,
    );
  }
  const shape = [...tensor.shape];
  if (target === DataType.DT_STRING) {
    if (tensor.dtype !== 'string') throw mismatch(tensor, target, name);
    // dataSync() would decode the bytes as UTF-8; the engine hands back the raw bytes.
    return { dtype: target, shape, values: tf.engine().readSync(tensor.dataId) as unknown as Uint8Array[] };
  }
  if (tensor.dtype === 'string' || tensor.dtype === 'complex64') throw mismatch(tensor, target, name);
  const data = tensor.dataSync() as Float32Array | Int32Array | Uint8Array | BigInt64Array;
  // tfjs-node hands TensorFlow's int64 outputs over as 'int32' tensors whose data is a BigInt64Array.
  if (data instanceof BigInt64Array)
    return { dtype: target, shape, values: convertBigInts(data, target, name) } as Tensor;
  return { dtype: target, shape, values: convertNumbers(data, target, name) } as Tensor;
}

/** Exact 64-bit integers: kept for DT_INT64, range-checked for every other integer dtype. */
function convertBigInts(data: BigInt64Array, target: SupportedDataType, name: string | undefined) {
  if (target === DataType.DT_INT64) return BigInt64Array.from(data);
  if (target === DataType.DT_UINT64) {
    const index = data.findIndex((value) => value < 0n);
    if (index >= 0) {
      throw new TensorCodecError(
        'BAD_VALUE',
        `element ${index} is ${data[index]}; DT_UINT64 needs an integer in range`,
        name,
      );
    }
    return BigUint64Array.from(data);
  }
  if (target === DataType.DT_FLOAT || target === DataType.DT_DOUBLE || target === DataType.DT_BOOL) {
    return convertNumbers(Float64Array.from(data, Number), target, name);
  }
  const safe = data.findIndex(
    (value) => value > BigInt(Number.MAX_SAFE_INTEGER) || value < -BigInt(Number.MAX_SAFE_INTEGER),
  );
  if (safe >= 0) {
    throw new TensorCodecError(
      'BAD_VALUE',
      `element ${safe} is ${data[safe]}; ${DataType[target]} needs an integer in range`,
      name,
    );
  }
  return convertNumbers(Float64Array.from(data, Number), target, name);
}

function mismatch(tensor: tf.Tensor, target: DataType, name: string | undefined): TensorCodecError {
  return new TensorCodecError(
    'BAD_VALUE',
    `a tfjs ${tensor.dtype} tensor cannot become ${DataType[target]}`,
    name,
  );
}

function convertNumbers(
  data: Float32Array | Float64Array | Int32Array | Uint8Array,
  target: SupportedDataType,
  name: string | undefined,
) {
  switch (target) {
    case DataType.DT_FLOAT:
      return Float32Array.from(data);
    case DataType.DT_DOUBLE:
      return Float64Array.from(data);
    case DataType.DT_HALF:
      return float32ToHalfBits(data);
    case DataType.DT_BFLOAT16:
      return float32ToBfloat16Bits(data);
    case DataType.DT_BOOL:
      return Uint8Array.from(data, (value) => (value ? 1 : 0));
    case DataType.DT_INT64:
      return BigInt64Array.from(checkedIntegers(data, -(2 ** 63), 2 ** 63, target, name), BigInt);
    case DataType.DT_UINT64:
      return BigUint64Array.from(checkedIntegers(data, 0, 2 ** 64, target, name), BigInt);
    default:
      return integerArray(data, target, name);
  }
}

const INTEGER_RANGES: Partial<
  Record<
    SupportedDataType,
    [min: number, max: number, make: (n: number) => ArrayLike<number> & { [i: number]: number }]
  >
> = {
  [DataType.DT_INT8]: [-128, 127, (n) => new Int8Array(n)],
  [DataType.DT_INT16]: [-32768, 32767, (n) => new Int16Array(n)],
  [DataType.DT_INT32]: [INT32_MIN, INT32_MAX, (n) => new Int32Array(n)],
  [DataType.DT_UINT8]: [0, 255, (n) => new Uint8Array(n)],
  [DataType.DT_UINT16]: [0, 65535, (n) => new Uint16Array(n)],
  [DataType.DT_UINT32]: [0, 2 ** 32 - 1, (n) => new Uint32Array(n)],
};

function integerArray(data: ArrayLike<number>, target: SupportedDataType, name: string | undefined) {
  const range = INTEGER_RANGES[target];
  if (!range) throw new TensorCodecError('UNSUPPORTED_DTYPE', `no conversion to ${DataType[target]}`, name);
  const [min, max, make] = range;
  const out = make(data.length);
  const checked = checkedIntegers(data, min, max + 1, target, name);
  for (let i = 0; i < checked.length; i++) out[i] = checked[i] as number;
  return out;
}

/** Values as integers in [min, maxExclusive), refusing fractions and values out of range. */
function checkedIntegers(
  data: ArrayLike<number>,
  min: number,
  maxExclusive: number,
  target: DataType,
  name: string | undefined,
): number[] {
  return Array.from(data, (value, index) => {
    if (!Number.isInteger(value) || value < min || value >= maxExclusive) {
      throw new TensorCodecError(
        'BAD_VALUE',
        `element ${index} is ${value}; ${DataType[target]} needs an integer in range`,
        name,
      );
    }
    return value;
  });
}

/** A tf.Tensor straight from a TensorProto. */
export function tensorProtoToTf(proto: TensorProto, name?: string): tf.Tensor {
  return toTfTensor(decodeTensor(proto, name === undefined ? {} : { name }), name);
}

/** A TensorProto straight from a tf.Tensor, optionally as another dtype (e.g. DT_HALF). */
export function tfToTensorProto(
  tensor: tf.Tensor,
  dtype?: SupportedDataType,
  options: EncodeTensorOptions = {},
): TensorProto {
  return encodeTensor(fromTfTensor(tensor, dtype, options.name), options);
}
