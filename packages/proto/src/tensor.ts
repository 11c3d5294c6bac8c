import { DataType } from './gen/tensorflow/core/framework/types_pb.js';

/** The dtypes TF Serving carries that this package encodes and decodes. */
export type SupportedDataType =
  | DataType.DT_FLOAT
  | DataType.DT_DOUBLE
  | DataType.DT_INT8
  | DataType.DT_INT16
  | DataType.DT_INT32
  | DataType.DT_INT64
  | DataType.DT_UINT8
  | DataType.DT_UINT16
  | DataType.DT_UINT32
  | DataType.DT_UINT64
  | DataType.DT_BOOL
  | DataType.DT_STRING
  | DataType.DT_HALF
  | DataType.DT_BFLOAT16;

/**
 * How each dtype's values are held in memory. Bools are 0/1 bytes; half and bfloat16 keep their 16-bit
 * patterns (lossless; see float16.ts to convert); strings are raw bytes, since TF strings are byte strings.
 */
export interface TensorValuesByType {
  [DataType.DT_FLOAT]: Float32Array;
  [DataType.DT_DOUBLE]: Float64Array;
  [DataType.DT_INT8]: Int8Array;
  [DataType.DT_INT16]: Int16Array;
  [DataType.DT_INT32]: Int32Array;
  [DataType.DT_INT64]: BigInt64Array;
  [DataType.DT_UINT8]: Uint8Array;
  [DataType.DT_UINT16]: Uint16Array;
  [DataType.DT_UINT32]: Uint32Array;
  [DataType.DT_UINT64]: BigUint64Array;
  [DataType.DT_BOOL]: Uint8Array;
  [DataType.DT_STRING]: Uint8Array[];
  [DataType.DT_HALF]: Uint16Array;
  [DataType.DT_BFLOAT16]: Uint16Array;
}

export type TensorValues<D extends SupportedDataType = SupportedDataType> = TensorValuesByType[D];

/** A dense tensor: row-major values and a fully known shape (every dim >= 0; [] for a scalar). */
export type Tensor<D extends SupportedDataType = SupportedDataType> = D extends SupportedDataType
  ? { dtype: D; shape: number[]; values: TensorValuesByType[D] }
  : never;

export type NumericArray = Exclude<TensorValues, Uint8Array[]>;

type TypedArrayConstructor = { new (length: number): NumericArray; readonly BYTES_PER_ELEMENT: number };

/** Per-dtype facts: the typed array that holds it, and which TensorProto field is its repeated home. */
export interface DataTypeInfo {
  name: string;
  /** Undefined for DT_STRING, whose values are byte strings. */
  array: TypedArrayConstructor | undefined;
  /** Bytes per element in tensor_content; 0 for strings. */
  itemSize: number;
  repeatedField:
    | 'floatVal'
    | 'doubleVal'
    | 'intVal'
    | 'int64Val'
    | 'boolVal'
    | 'stringVal'
    | 'halfVal'
    | 'uint32Val'
    | 'uint64Val';
}

const info = (
  name: string,
  array: TypedArrayConstructor | undefined,
  repeatedField: DataTypeInfo['repeatedField'],
): DataTypeInfo => ({ name, array, itemSize: array?.BYTES_PER_ELEMENT ?? 0, repeatedField });

const DATA_TYPES: ReadonlyMap<DataType, DataTypeInfo> = new Map<DataType, DataTypeInfo>([
  [DataType.DT_FLOAT, info('DT_FLOAT', Float32Array, 'floatVal')],
  [DataType.DT_DOUBLE, info('DT_DOUBLE', Float64Array, 'doubleVal')],
  [DataType.DT_INT8, info('DT_INT8', Int8Array, 'intVal')],
  [DataType.DT_INT16, info('DT_INT16', Int16Array, 'intVal')],
  [DataType.DT_INT32, info('DT_INT32', Int32Array, 'intVal')],
  [DataType.DT_INT64, info('DT_INT64', BigInt64Array, 'int64Val')],
  [DataType.DT_UINT8, info('DT_UINT8', Uint8Array, 'intVal')],
  [DataType.DT_UINT16, info('DT_UINT16', Uint16Array, 'intVal')],
  [DataType.DT_UINT32, info('DT_UINT32', Uint32Array, 'uint32Val')],
  [DataType.DT_UINT64, info('DT_UINT64', BigUint64Array, 'uint64Val')],
  [DataType.DT_BOOL, info('DT_BOOL', Uint8Array, 'boolVal')],
  [DataType.DT_STRING, info('DT_STRING', undefined, 'stringVal')],
  [DataType.DT_HALF, info('DT_HALF', Uint16Array, 'halfVal')],
  [DataType.DT_BFLOAT16, info('DT_BFLOAT16', Uint16Array, 'halfVal')],
]);

export function isSupportedDataType(dtype: DataType): dtype is SupportedDataType {
  return DATA_TYPES.has(dtype);
}

/** Facts about a supported dtype; undefined for the rest (complex, resource, variant, quantized, ...). */
export function dataTypeInfo(dtype: DataType): DataTypeInfo | undefined {
  return DATA_TYPES.get(dtype);
}

/** Number of elements a shape holds; 1 for a scalar. */
export function elementCount(shape: readonly number[]): number {
  let count = 1;
  for (const dim of shape) count *= dim;
  return count;
}
