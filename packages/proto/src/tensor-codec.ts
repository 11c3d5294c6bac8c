import { create } from '@bufbuild/protobuf';
import type { TensorProto } from './gen/tensorflow/core/framework/tensor_pb.js';
import { TensorProtoSchema } from './gen/tensorflow/core/framework/tensor_pb.js';
import type { TensorShapeProto } from './gen/tensorflow/core/framework/tensor_shape_pb.js';
import { DataType } from './gen/tensorflow/core/framework/types_pb.js';
import {
  type DataTypeInfo,
  dataTypeInfo,
  elementCount,
  type NumericArray,
  type SupportedDataType,
  type Tensor,
} from './tensor.js';
import { TensorCodecError } from './tensor-codec-error.js';

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  // tensor_content is little-endian; reading it through typed arrays assumes a little-endian host.
  throw new Error('@modelgate/proto needs a little-endian host');
}

export interface EncodeTensorOptions {
  /**
   * `content` (default) writes numeric values as raw little-endian bytes in tensor_content, the compact form
   * TensorFlow itself writes; `repeated` writes them to the dtype's *_val field. Strings always use string_val.
   */
  form?: 'content' | 'repeated';
  /** Names the tensor in errors. */
  name?: string;
}

export interface DecodeTensorOptions {
  /** Names the tensor in errors. */
  name?: string;
  /**
   * The most elements a decoded tensor may hold (default DEFAULT_MAX_TENSOR_ELEMENTS). A repeated field
   * shorter than the shape is broadcast, so a few bytes on the wire can ask for any count: the bound is
   * checked before anything is allocated.
   */
  maxElements?: number;
}

/**
 * 2^28 elements (1 GiB of float32): past what one TF Serving message can carry in tensor_content (the
 * int32-maximum message limit), so only broadcast repeated fields reach it.
 */
export const DEFAULT_MAX_TENSOR_ELEMENTS = 2 ** 28;

function requireInfo(dtype: DataType, name: string | undefined): DataTypeInfo {
  const found = dataTypeInfo(dtype);
  if (found) return found;
  const label = DataType[dtype] ?? `DataType ${dtype}`;
  throw new TensorCodecError(
    'UNSUPPORTED_DTYPE',
    `dtype ${label} is not supported by the tensor codec`,
    name,
  );
}

/** The shape a TensorShapeProto describes, refusing unknown rank and unknown (-1) dims. */
export function decodeShape(shape: TensorShapeProto | undefined, name?: string): number[] {
  if (!shape) return [];
  if (shape.unknownRank) throw new TensorCodecError('UNKNOWN_SHAPE', 'shape has unknown rank', name);
  let count = 1;
  return shape.dim.map((dim, index) => {
    const size = Number(dim.size);
    if (size < 0 || !Number.isSafeInteger(size)) {
      throw new TensorCodecError(
        'UNKNOWN_SHAPE',
        `dim ${index} has size ${dim.size}; a tensor needs every dim >= 0`,
        name,
      );
    }
    count *= size;
    if (!Number.isSafeInteger(count)) {
      throw new TensorCodecError(
        'UNKNOWN_SHAPE',
        `shape [${shape.dim.map((d) => d.size)}] holds more than 2^53 elements`,
        name,
      );
    }
    return size;
  });
}

/**
 * Decodes a TensorProto into typed values. Reads tensor_content when present, else the dtype's repeated
 * field; like TensorFlow, a repeated field shorter than the shape is padded with its last value (empty: zeros).
 * Numeric values are copied out of the message, so the result never aliases the wire buffer.
 */
export function decodeTensor(proto: TensorProto, options: DecodeTensorOptions = {}): Tensor {
  const { name } = options;
  const info = requireInfo(proto.dtype, name);
  const shape = decodeShape(proto.tensorShape, name);
  const count = elementCount(shape);
  const dtype = proto.dtype as SupportedDataType;
  if (proto.tensorContent.byteLength > 0 && info.array !== undefined) {
    // Sizes first: the shape alone must not decide how much is allocated.
    const expected = count * info.itemSize;
    if (proto.tensorContent.byteLength !== expected) {
      throw new TensorCodecError(
        'CONTENT_SIZE',
        `tensor_content has ${proto.tensorContent.byteLength} bytes; ${info.name} of shape [${shape}] needs ${expected}`,
        name,
      );
    }
    const values = new info.array(count);
    // One memcpy; the content may sit at any offset in the message buffer, so it is never viewed in place.
    new Uint8Array(values.buffer, values.byteOffset, expected).set(proto.tensorContent);
    return { dtype, shape, values } as Tensor;
  }
  const maxElements = options.maxElements ?? DEFAULT_MAX_TENSOR_ELEMENTS;
  if (count > maxElements) {
    throw new TensorCodecError(
      'TOO_MANY_VALUES',
      `shape [${shape}] holds ${count} elements; at most ${maxElements} are decoded`,
      name,
    );
  }
  if (info.array === undefined) {
    return { dtype: DataType.DT_STRING, shape, values: decodeStrings(proto.stringVal, count, name) };
  }
  const values = new info.array(count);
  fillFromRepeated(values, proto[info.repeatedField], count, info, name);
  return { dtype, shape, values } as Tensor;
}

function decodeStrings(stringVal: Uint8Array[], count: number, name: string | undefined): Uint8Array[] {
  if (stringVal.length > count) {
    throw new TensorCodecError(
      'TOO_MANY_VALUES',
      `string_val has ${stringVal.length} values; shape holds ${count}`,
      name,
    );
  }
  if (stringVal.length === count) return stringVal;
  const values = new Array<Uint8Array>(count).fill(stringVal.at(-1) ?? new Uint8Array(0));
  for (let i = 0; i < stringVal.length; i++) values[i] = stringVal[i] as Uint8Array;
  return values;
}

type RepeatedValues = readonly (number | bigint | boolean | Uint8Array)[];

function fillFromRepeated(
  values: NumericArray,
  repeated: RepeatedValues,
  count: number,
  info: DataTypeInfo,
  name: string | undefined,
): void {
  if (repeated.length > count) {
    throw new TensorCodecError(
      'TOO_MANY_VALUES',
      `${info.repeatedField} has ${repeated.length} values; ${info.name} of this shape holds ${count}`,
      name,
    );
  }
  if (repeated.length === 0) return;
  const target = values as {
    [index: number]: number | bigint;
    fill(value: number | bigint, start?: number): unknown;
  };
  const isBigInt = values instanceof BigInt64Array || values instanceof BigUint64Array;
  for (let i = 0; i < repeated.length; i++) {
    const value = repeated[i];
    target[i] = isBigInt ? BigInt(value as bigint) : Number(value);
  }
  if (repeated.length < count) target.fill(target[repeated.length - 1] as number | bigint, repeated.length);
}

/** Encodes typed values as a TensorProto, checking that values and shape agree. */
export function encodeTensor(tensor: Tensor, options: EncodeTensorOptions = {}): TensorProto {
  const { name } = options;
  const info = requireInfo(tensor.dtype, name);
  checkValuesType(tensor, info, name);
  checkShape(tensor, name);
  const proto = create(TensorProtoSchema, {
    dtype: tensor.dtype,
    tensorShape: { dim: tensor.shape.map((size) => ({ size: BigInt(size) })) },
  });
  if (tensor.dtype === DataType.DT_STRING) {
    proto.stringVal = tensor.values;
    return proto;
  }
  const values = tensor.values as NumericArray;
  if ((options.form ?? 'content') === 'content') {
    // A view, not a copy: toBinary copies these bytes once, straight into the message buffer.
    proto.tensorContent = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    return proto;
  }
  writeRepeated(proto, values, info);
  return proto;
}

function writeRepeated(proto: TensorProto, values: NumericArray, info: DataTypeInfo): void {
  switch (info.repeatedField) {
    case 'int64Val':
    case 'uint64Val':
      proto[info.repeatedField] = Array.from(values as BigInt64Array | BigUint64Array);
      return;
    case 'boolVal':
      proto.boolVal = Array.from(values as Uint8Array, (value) => value !== 0);
      return;
    case 'stringVal':
      throw new TensorCodecError('BAD_VALUE', 'numeric values cannot go to string_val');
    default:
      proto[info.repeatedField] = Array.from(values as Exclude<NumericArray, BigInt64Array | BigUint64Array>);
  }
}

/** Runtime types are not trusted: values of another array type would be written as other bytes. */
function checkValuesType(tensor: Tensor, info: DataTypeInfo, name: string | undefined): void {
  const values: unknown = tensor.values;
  const kind = describeValues(values);
  if (info.array === undefined) {
    if (!Array.isArray(values)) {
      throw new TensorCodecError('BAD_VALUE', `${info.name} needs an array of Uint8Array, got ${kind}`, name);
    }
    const index = values.findIndex((item) => !(item instanceof Uint8Array));
    if (index >= 0) {
      throw new TensorCodecError(
        'BAD_VALUE',
        `${info.name} element ${index} is ${describeValues(values[index])}; expected a Uint8Array`,
        name,
      );
    }
    return;
  }
  if (!(values instanceof info.array)) {
    throw new TensorCodecError('BAD_VALUE', `${info.name} needs a ${info.array.name}, got ${kind}`, name);
  }
  if (tensor.dtype === DataType.DT_BOOL) {
    const index = (values as Uint8Array).findIndex((value) => value > 1);
    if (index >= 0) {
      throw new TensorCodecError(
        'BAD_VALUE',
        `DT_BOOL element ${index} is ${(values as Uint8Array)[index]}; expected 0 or 1`,
        name,
      );
    }
  }
}

function describeValues(values: unknown): string {
  if (values === null || typeof values !== 'object') return String(values === null ? null : typeof values);
  if (Array.isArray(values)) return 'a plain array';
  return `a ${values.constructor?.name ?? 'object'}`;
}

function checkShape(tensor: Tensor, name: string | undefined): void {
  for (const [index, dim] of tensor.shape.entries()) {
    if (!Number.isSafeInteger(dim) || dim < 0) {
      throw new TensorCodecError('UNKNOWN_SHAPE', `dim ${index} is ${dim}; expected an integer >= 0`, name);
    }
  }
  const count = elementCount(tensor.shape);
  if (tensor.values.length !== count) {
    throw new TensorCodecError(
      'SHAPE_MISMATCH',
      `shape [${tensor.shape}] holds ${count} values but ${tensor.values.length} were given`,
      name,
    );
  }
}
