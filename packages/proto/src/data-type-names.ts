import { DataType } from './gen/tensorflow/core/framework/types_pb.js';

/** TensorFlow's DataTypeString names (`float`, `int32`, ...), which its error messages use. */
const NAMES: Readonly<Partial<Record<DataType, string>>> = {
  [DataType.DT_INVALID]: 'INVALID',
  [DataType.DT_FLOAT]: 'float',
  [DataType.DT_DOUBLE]: 'double',
  [DataType.DT_INT32]: 'int32',
  [DataType.DT_UINT8]: 'uint8',
  [DataType.DT_INT16]: 'int16',
  [DataType.DT_INT8]: 'int8',
  [DataType.DT_STRING]: 'string',
  [DataType.DT_COMPLEX64]: 'complex64',
  [DataType.DT_INT64]: 'int64',
  [DataType.DT_BOOL]: 'bool',
  [DataType.DT_QINT8]: 'qint8',
  [DataType.DT_QUINT8]: 'quint8',
  [DataType.DT_QINT32]: 'qint32',
  [DataType.DT_BFLOAT16]: 'bfloat16',
  [DataType.DT_QINT16]: 'qint16',
  [DataType.DT_QUINT16]: 'quint16',
  [DataType.DT_UINT16]: 'uint16',
  [DataType.DT_COMPLEX128]: 'complex128',
  [DataType.DT_HALF]: 'half',
  [DataType.DT_RESOURCE]: 'resource',
  [DataType.DT_VARIANT]: 'variant',
  [DataType.DT_UINT32]: 'uint32',
  [DataType.DT_UINT64]: 'uint64',
};

export function dataTypeString(dtype: DataType): string {
  return NAMES[dtype] ?? `unknown dtype enum (${dtype})`;
}
