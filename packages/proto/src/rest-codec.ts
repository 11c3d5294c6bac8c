import {
  bfloat16BitsToFloat32,
  float32ToBfloat16Bits,
  float32ToHalfBits,
  halfBitsToFloat32,
} from './float16.js';
import { DataType } from './gen/tensorflow/core/framework/types_pb.js';
import { formatRestNumber, parseRestJson } from './rest-json.js';
import {
  dataTypeInfo,
  elementCount,
  type NumericArray,
  type SupportedDataType,
  type Tensor,
} from './tensor.js';
import { TensorCodecError } from './tensor-codec-error.js';

/** `row` is TF Serving's `instances`/`predictions` form; `columnar` is `inputs`/`outputs`. */
export type RestFormat = 'row' | 'columnar';

/** A tensor as TF Serving's JSON carries it: nested lists of numbers, bools, strings or `{"b64": ...}`. */
export type JsonTensorValue = number | boolean | string | { b64: string } | JsonTensorValue[];

/** Input or output aliases and their dtypes: what a signature says, and what decoding needs. */
export type RestSignature = Record<string, SupportedDataType>;

export interface EncodeRestPredictRequestOptions {
  format: RestFormat;
  signatureName?: string;
  /** Write a lone input without its name, as TF Serving's examples do (default true). */
  dropSingleInputName?: boolean;
}

export interface RestPredictRequest {
  format: RestFormat;
  signatureName: string | undefined;
  inputs: Record<string, Tensor>;
}

export interface RestPredictResponse {
  format: RestFormat;
  outputs: Record<string, Tensor>;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf8Lenient = new TextDecoder('utf-8');
const utf8Encoder = new TextEncoder();

type ElementWriter = (index: number) => string;

/** Writes one element of a tensor as JSON; strings as b64 objects when `asBase64` says so. */
function elementWriter(tensor: Tensor, asBase64: (bytes: Uint8Array) => boolean): ElementWriter {
  switch (tensor.dtype) {
    case DataType.DT_STRING: {
      const values = tensor.values;
      return (i) => {
        const bytes = values[i] as Uint8Array;
        if (asBase64(bytes))
          return `{"b64":"${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')}"}`;
        return JSON.stringify(utf8Lenient.decode(bytes));
      };
    }
    case DataType.DT_BOOL: {
      const values = tensor.values;
      return (i) => (values[i] ? 'true' : 'false');
    }
    case DataType.DT_HALF: {
      const values = halfBitsToFloat32(tensor.values);
      return (i) => formatRestNumber(values[i] as number);
    }
    case DataType.DT_BFLOAT16: {
      const values = bfloat16BitsToFloat32(tensor.values);
      return (i) => formatRestNumber(values[i] as number);
    }
    default: {
      const values = tensor.values as NumericArray;
      return (i) => formatRestNumber(values[i] as number | bigint);
    }
  }
}

/** Appends the nested-list JSON of `shape` starting at element `offset`. */
function writeNested(
  out: string[],
  shape: readonly number[],
  depth: number,
  offset: number,
  write: ElementWriter,
): void {
  if (depth === shape.length) {
    out.push(write(offset));
    return;
  }
  const size = shape[depth] as number;
  const stride = elementCount(shape.slice(depth + 1));
  out.push('[');
  for (let i = 0; i < size; i++) {
    if (i > 0) out.push(',');
    writeNested(out, shape, depth + 1, offset + i * stride, write);
  }
  out.push(']');
}

function tensorJson(tensor: Tensor, asBase64: (bytes: Uint8Array) => boolean): string {
  const out: string[] = [];
  writeNested(out, tensor.shape, 0, 0, elementWriter(tensor, asBase64));
  return out.join('');
}

/** Row form: one JSON entry per slice along dim 0, all tensors sharing that batch size. */
function rowsJson(
  tensors: Record<string, Tensor>,
  named: boolean,
  asBase64: (name: string) => (bytes: Uint8Array) => boolean,
): string {
  const entries = Object.entries(tensors);
  const batch = batchSize(entries);
  const writers = entries.map(([name, tensor]) => ({
    key: JSON.stringify(name),
    sliceShape: tensor.shape.slice(1),
    stride: elementCount(tensor.shape.slice(1)),
    write: elementWriter(tensor, asBase64(name)),
  }));
  const out: string[] = ['['];
  for (let row = 0; row < batch; row++) {
    if (row > 0) out.push(',');
    if (named) out.push('{');
    writers.forEach(({ key, sliceShape, stride, write }, index) => {
      if (named) out.push(index > 0 ? ',' : '', key, ':');
      writeNested(out, sliceShape, 0, row * stride, write);
    });
    if (named) out.push('}');
  }
  out.push(']');
  return out.join('');
}

function batchSize(entries: [string, Tensor][]): number {
  let batch: number | undefined;
  for (const [name, tensor] of entries) {
    const size = tensor.shape[0];
    if (size === undefined) {
      throw new TensorCodecError(
        'SHAPE_MISMATCH',
        'a scalar cannot be sent in row format; use columnar',
        name,
      );
    }
    if (batch !== undefined && size !== batch) {
      throw new TensorCodecError(
        'SHAPE_MISMATCH',
        `has batch size ${size}; expected ${batch} as the other tensors have`,
        name,
      );
    }
    batch = size;
  }
  return batch ?? 0;
}

function namedJson(
  tensors: Record<string, Tensor>,
  asBase64: (name: string) => (bytes: Uint8Array) => boolean,
): string {
  const parts = Object.entries(tensors).map(
    ([name, tensor]) => `${JSON.stringify(name)}:${tensorJson(tensor, asBase64(name))}`,
  );
  return `{${parts.join(',')}}`;
}

/** Request strings go as b64 when the alias ends in `_bytes` or the bytes are not valid UTF-8. */
function requestBase64(name: string): (bytes: Uint8Array) => boolean {
  if (name.endsWith('_bytes')) return () => true;
  return (bytes) => !isUtf8(bytes);
}

/** TF Serving base64-encodes string outputs whose alias ends in `_bytes`, and only those. */
function responseBase64(name: string): (bytes: Uint8Array) => boolean {
  const base64 = name.endsWith('_bytes');
  return () => base64;
}

function isUtf8(bytes: Uint8Array): boolean {
  try {
    utf8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** The body of a REST `:predict` request, in row (`instances`) or columnar (`inputs`) form. */
export function encodeRestPredictRequest(
  inputs: Record<string, Tensor>,
  options: EncodeRestPredictRequestOptions,
): string {
  const names = Object.keys(inputs);
  const named = names.length !== 1 || options.dropSingleInputName === false;
  const head =
    options.signatureName === undefined ? '{' : `{"signature_name":${JSON.stringify(options.signatureName)},`;
  if (options.format === 'row') return `${head}"instances":${rowsJson(inputs, named, requestBase64)}}`;
  const only = names.length === 1 ? (inputs[names[0] as string] as Tensor) : undefined;
  const body =
    named || !only ? namedJson(inputs, requestBase64) : tensorJson(only, requestBase64(names[0] as string));
  return `${head}"inputs":${body}}`;
}

/** The body TF Serving answers a `:predict` with; a single output drops its name, as TF Serving's does. */
export function encodeRestPredictResponse(outputs: Record<string, Tensor>, format: RestFormat): string {
  const names = Object.keys(outputs);
  const single = names.length === 1 ? (outputs[names[0] as string] as Tensor) : undefined;
  if (format === 'row') return `{"predictions":${rowsJson(outputs, single === undefined, responseBase64)}}`;
  const body = single
    ? tensorJson(single, responseBase64(names[0] as string))
    : namedJson(outputs, responseBase64);
  return `{"outputs":${body}}`;
}

/** TF Serving's error body, as its RapidJSON PrettyWriter lays it out: `{\n    "error": "<message>"\n}`. */
export function encodeRestError(message: string): string {
  return `{\n    "error": ${JSON.stringify(message)}\n}`;
}

/** The message of a TF Serving error body, or undefined when the text is not one. */
export function decodeRestError(text: string): string | undefined {
  try {
    const body = parseRestJson(text);
    if (isRecord(body) && typeof body.error === 'string') return body.error;
  } catch {
    // Not JSON at all: not an error body either.
  }
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isBase64Value(value: unknown): value is { b64: string } {
  return isRecord(value) && typeof value.b64 === 'string' && Object.keys(value).length === 1;
}

/** Decodes a `:predict` request body against the signature's inputs. */
export function decodeRestPredictRequest(text: string, signature: RestSignature): RestPredictRequest {
  const body = parseRestJson(text);
  if (!isRecord(body)) throw new TensorCodecError('BAD_JSON', 'request body must be a JSON object');
  if ('instances' in body && 'inputs' in body) {
    throw new TensorCodecError('BAD_JSON', "request has both 'instances' and 'inputs'; send one of them");
  }
  const signatureName = body.signature_name;
  if (signatureName !== undefined && typeof signatureName !== 'string') {
    throw new TensorCodecError(
      'BAD_JSON',
      `'signature_name' must be a string, got ${JSON.stringify(signatureName)}`,
    );
  }
  if ('instances' in body) {
    return { format: 'row', signatureName, inputs: decodeRows(body.instances, signature, 'instances') };
  }
  if ('inputs' in body) {
    return { format: 'columnar', signatureName, inputs: decodeColumns(body.inputs, signature, 'inputs') };
  }
  throw new TensorCodecError('BAD_JSON', "request has neither 'instances' nor 'inputs'");
}

/** Decodes a `:predict` response body against the outputs that were asked for. */
export function decodeRestPredictResponse(text: string, signature: RestSignature): RestPredictResponse {
  const body = parseRestJson(text);
  if (!isRecord(body)) throw new TensorCodecError('BAD_JSON', 'response body must be a JSON object');
  if (typeof body.error === 'string')
    throw new TensorCodecError('BAD_VALUE', `server answered an error: ${body.error}`);
  if ('predictions' in body) {
    return { format: 'row', outputs: decodeRows(body.predictions, signature, 'predictions') };
  }
  if ('outputs' in body)
    return { format: 'columnar', outputs: decodeColumns(body.outputs, signature, 'outputs') };
  throw new TensorCodecError('BAD_JSON', "response has neither 'predictions' nor 'outputs'");
}

function onlyName(signature: RestSignature, key: string): string {
  const names = Object.keys(signature);
  if (names.length !== 1) {
    throw new TensorCodecError(
      'BAD_JSON',
      `'${key}' holds an unnamed tensor, but the signature has ${names.length} tensors (${names.join(', ')}); name them`,
    );
  }
  return names[0] as string;
}

/** Named form when the object's keys are exactly tensor names of the signature. */
function isNamedForm(value: unknown, signature: RestSignature): value is Record<string, unknown> {
  return isRecord(value) && !isBase64Value(value) && Object.keys(value).every((key) => key in signature);
}

function decodeColumns(value: unknown, signature: RestSignature, key: string): Record<string, Tensor> {
  if (!isNamedForm(value, signature)) {
    const name = onlyName(signature, key);
    return { [name]: jsonToTensor(value, signature[name] as SupportedDataType, name) };
  }
  const tensors: Record<string, Tensor> = {};
  for (const [name, item] of Object.entries(value)) {
    tensors[name] = jsonToTensor(item, signature[name] as SupportedDataType, name);
  }
  return tensors;
}

function decodeRows(value: unknown, signature: RestSignature, key: string): Record<string, Tensor> {
  if (!Array.isArray(value)) throw new TensorCodecError('BAD_JSON', `'${key}' must be a list`);
  const named = value.length > 0 && isNamedForm(value[0], signature);
  if (!named) {
    const name = onlyName(signature, key);
    return { [name]: jsonToTensor(value, signature[name] as SupportedDataType, name) };
  }
  const names = Object.keys(value[0] as Record<string, unknown>);
  const columns: Record<string, unknown[]> = Object.fromEntries(names.map((name) => [name, []]));
  value.forEach((row, index) => {
    if (!isRecord(row) || Object.keys(row).length !== names.length || !names.every((name) => name in row)) {
      throw new TensorCodecError(
        'BAD_JSON',
        `'${key}'[${index}] must name the same tensors as '${key}'[0]: ${names.join(', ')}`,
      );
    }
    for (const name of names) columns[name]?.push(row[name]);
  });
  const tensors: Record<string, Tensor> = {};
  for (const name of names)
    tensors[name] = jsonToTensor(columns[name], signature[name] as SupportedDataType, name);
  return tensors;
}

/** The shape of nested lists, read along the first element at each level. */
function inferShape(value: unknown): number[] {
  const shape: number[] = [];
  let level = value;
  while (Array.isArray(level)) {
    shape.push(level.length);
    if (level.length === 0) break;
    level = level[0];
  }
  return shape;
}

/** Flattens nested lists row-major, refusing ragged ones. */
function flatten(value: unknown, shape: readonly number[], name: string): unknown[] {
  const flat: unknown[] = [];
  const visit = (item: unknown, depth: number, path: string) => {
    if (depth === shape.length) {
      if (Array.isArray(item)) {
        throw new TensorCodecError(
          'SHAPE_MISMATCH',
          `${path} is a list, but the tensor has rank ${shape.length}`,
          name,
        );
      }
      flat.push(item);
      return;
    }
    if (!Array.isArray(item) || item.length !== shape[depth]) {
      const got = Array.isArray(item) ? `a list of ${item.length}` : JSON.stringify(item);
      throw new TensorCodecError(
        'SHAPE_MISMATCH',
        `${path} should be a list of ${shape[depth]}, got ${got}`,
        name,
      );
    }
    for (let i = 0; i < item.length; i++) visit(item[i], depth + 1, `${path}[${i}]`);
  };
  visit(value, 0, '');
  return flat;
}

/** Converts one JSON tensor (nested lists) to typed values of the given dtype. */
export function jsonToTensor(value: unknown, dtype: SupportedDataType, name: string): Tensor {
  const info = dataTypeInfo(dtype);
  if (!info) throw new TensorCodecError('UNSUPPORTED_DTYPE', `dtype ${dtype} has no JSON form here`, name);
  const shape = inferShape(value);
  const flat = flatten(value, shape, name);
  const bad = (index: number, expected: string) =>
    new TensorCodecError(
      'BAD_VALUE',
      `element ${index} is ${JSON.stringify(flat[index])}; expected ${expected}`,
      name,
    );
  switch (dtype) {
    case DataType.DT_STRING:
      return {
        dtype,
        shape,
        values: flat.map((item, index) => {
          if (typeof item === 'string') return utf8Encoder.encode(item);
          if (isBase64Value(item)) return new Uint8Array(Buffer.from(item.b64, 'base64'));
          throw bad(index, 'a string or {"b64": ...}');
        }),
      };
    case DataType.DT_BOOL:
      return {
        dtype,
        shape,
        values: Uint8Array.from(flat, (item, index) => {
          if (typeof item !== 'boolean') throw bad(index, 'true or false');
          return item ? 1 : 0;
        }),
      };
    case DataType.DT_HALF:
    case DataType.DT_BFLOAT16: {
      const numbers = flat.map((item, index) => {
        if (typeof item !== 'number') throw bad(index, 'a number');
        return item;
      });
      const values = dtype === DataType.DT_HALF ? float32ToHalfBits(numbers) : float32ToBfloat16Bits(numbers);
      return { dtype, shape, values } as Tensor;
    }
    case DataType.DT_INT64:
    case DataType.DT_UINT64: {
      const values =
        dtype === DataType.DT_INT64 ? new BigInt64Array(flat.length) : new BigUint64Array(flat.length);
      flat.forEach((item, index) => {
        if (typeof item !== 'number' || !Number.isInteger(item)) throw bad(index, 'an integer');
        values[index] = BigInt(item);
      });
      return { dtype, shape, values } as Tensor;
    }
    default: {
      const ArrayType = info.array as NonNullable<typeof info.array>;
      const values = new ArrayType(flat.length) as Exclude<NumericArray, BigInt64Array | BigUint64Array>;
      const integer = dtype !== DataType.DT_FLOAT && dtype !== DataType.DT_DOUBLE;
      flat.forEach((item, index) => {
        if (typeof item !== 'number') throw bad(index, 'a number');
        if (integer) checkInteger(item, values, index, bad);
        values[index] = item;
      });
      return { dtype, shape, values } as Tensor;
    }
  }
}

function checkInteger(
  item: number,
  values: Exclude<NumericArray, BigInt64Array | BigUint64Array>,
  index: number,
  bad: (index: number, expected: string) => TensorCodecError,
): void {
  const bits = values.BYTES_PER_ELEMENT * 8;
  const signed = values instanceof Int8Array || values instanceof Int16Array || values instanceof Int32Array;
  const min = signed ? -(2 ** (bits - 1)) : 0;
  const max = signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
  if (!Number.isInteger(item) || item < min || item > max) throw bad(index, `an integer in [${min}, ${max}]`);
}
