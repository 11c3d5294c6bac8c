import { bfloat16BitsToFloat32, halfBitsToFloat32 } from './float16.js';
import { DataType } from './gen/tensorflow/core/framework/types_pb.js';
import { readPredictJson, readPredictResponseJson, writePredictJson } from './json-tensor.js';
import { formatRestNumber } from './rest-json.js';
import { type JsonNode, member, parseRestDocument } from './rest-json-document.js';
import { restErrorBody } from './rest-json-writer.js';
import { elementCount, type NumericArray, type SupportedDataType, type Tensor } from './tensor.js';
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

/** The body TF Serving answers a `:predict` with, byte for byte as its writer lays it out (json_tensor.cc). */
export function encodeRestPredictResponse(outputs: Record<string, Tensor>, format: RestFormat): string {
  return writePredictJson(Object.entries(outputs), format);
}

/** TF Serving's error body, as its RapidJSON PrettyWriter lays it out: `{\n    "error": "<message>"\n}`. */
export function encodeRestError(message: string): string {
  return restErrorBody(message);
}

/** The message of a TF Serving error body, or undefined when the text is not one. */
export function decodeRestError(text: string): string | undefined {
  let body: JsonNode;
  try {
    body = parseRestDocument(utf8Encoder.encode(text));
  } catch (error) {
    if (error instanceof TensorCodecError) return undefined; // not JSON at all: not an error body either
    throw error;
  }
  const message = member(body, 'error');
  return message?.kind === 'string' ? message.text : undefined;
}

const asBytes = (text: string | Uint8Array) => (typeof text === 'string' ? utf8Encoder.encode(text) : text);

/**
 * Decodes a `:predict` request body against the signature's inputs, by TF Serving's own rules
 * (util/json_tensor.cc): every input named, exact 64-bit integers, range and base64 checks, its messages.
 * Failures are TensorCodecErrors whose `grpcCode` is the status TF Serving answers.
 */
export function decodeRestPredictRequest(
  text: string | Uint8Array,
  signature: RestSignature,
): RestPredictRequest {
  const request = readPredictJson(asBytes(text), () => new Map(Object.entries(signature)));
  return {
    format: request.format,
    signatureName: request.signatureName === '' ? undefined : request.signatureName,
    inputs: request.inputs,
  };
}

/** Decodes a `:predict` response body against the outputs that were asked for, by the same rules. */
export function decodeRestPredictResponse(
  text: string | Uint8Array,
  signature: RestSignature,
): RestPredictResponse {
  return readPredictResponseJson(asBytes(text), new Map(Object.entries(signature)));
}
