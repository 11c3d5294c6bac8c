import type { MessageInitShape } from '@bufbuild/protobuf';
import { dataTypeString } from './data-type-names.js';
import type { ExampleSchema } from './gen/tensorflow/core/example/example_pb.js';
import type { FeatureSchema } from './gen/tensorflow/core/example/feature_pb.js';
import { DataType } from './gen/tensorflow/core/framework/types_pb.js';
import type { ClassificationResult } from './gen/tensorflow_serving/apis/classification_pb.js';
import type { InputSchema } from './gen/tensorflow_serving/apis/input_pb.js';
import type { RegressionResult } from './gen/tensorflow_serving/apis/regression_pb.js';
import {
  isBase64Object,
  type JsonNode,
  jsonTypeName,
  member,
  parseRestDocument,
} from './rest-json-document.js';
import { formatDecimal, jsonDebugString, PrettyJsonWriter } from './rest-json-writer.js';
import { dataTypeInfo, type Tensor } from './tensor.js';
import { TensorCodecError } from './tensor-codec-error.js';

// TF Serving's `:predict` JSON (util/json_tensor.cc): reading `instances` (row) or `inputs` (columnar) into
// tensors of the signature's dtypes, and writing `predictions` or `outputs`; with its acceptance rules and
// error messages.

export type PredictFormat = 'row' | 'columnar';

export interface PredictJsonRequest {
  format: PredictFormat;
  /** As sent; empty means serving_default. */
  signatureName: string;
  inputs: Record<string, Tensor>;
}

/** Input alias -> dtype of the signature a request names; throws the lookup's error (unknown model, ...). */
export type InputDtypes = (signatureName: string) => ReadonlyMap<string, DataType>;

const invalid = (message: string) => new TensorCodecError('BAD_JSON', message);

/** `JSON Value: <value> <detail>`, json_tensor.cc's FormatError. */
function formatError(node: JsonNode, detail: string): TensorCodecError {
  return invalid(`JSON Value: ${jsonDebugString(node)} ${detail}`);
}

function typeError(node: JsonNode, dtype: DataType): TensorCodecError {
  return invalid(
    `JSON Value: ${jsonDebugString(node)} Type: ${jsonTypeName(node)} is not of expected type: ${dataTypeString(dtype)}`,
  );
}

/** The shape along first elements (json_tensor.cc GetDenseTensorShape). */
function denseShape(node: JsonNode): number[] {
  const shape: number[] = [];
  for (let level = node; level.kind === 'array'; level = level.items[0] as JsonNode) {
    shape.push(level.items.length);
    if (level.items.length === 0) break;
  }
  return shape;
}

const INT32 = [-(2n ** 31n), 2n ** 31n - 1n] as const;
const UINT32 = [0n, 2n ** 32n - 1n] as const;
const INT64 = [-(2n ** 63n), 2n ** 63n - 1n] as const;
const UINT64 = [0n, 2n ** 64n - 1n] as const;

function integerIn(node: JsonNode, [min, max]: readonly [bigint, bigint]): bigint | undefined {
  if (node.kind !== 'number' || node.integer === undefined) return undefined;
  return node.integer >= min && node.integer <= max ? node.integer : undefined;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function base64Bytes(node: JsonNode): Uint8Array {
  if (!isBase64Object(node)) {
    throw invalid(`JSON Value: ${jsonDebugString(node)} not formatted correctly for base64 data`);
  }
  const text =
    node.kind === 'object' && node.members[0]?.[1].kind === 'string' ? node.members[0][1].text : '';
  if (!BASE64.test(text) || text.replace(/=+$/, '').length % 4 === 1)
    throw invalid('Unable to base64 decode');
  return new Uint8Array(Buffer.from(text, 'base64'));
}

/** One scalar as the dtype wants it (json_tensor.cc AddValueToTensor). */
function scalar(node: JsonNode, dtype: DataType): number | bigint | Uint8Array {
  if (node.kind === 'object') {
    if (dtype === DataType.DT_STRING) return base64Bytes(node);
    throw typeError(node, dtype);
  }
  switch (dtype) {
    case DataType.DT_FLOAT:
    case DataType.DT_DOUBLE:
      if (node.kind !== 'number') throw typeError(node, dtype);
      return node.value;
    case DataType.DT_INT32:
    case DataType.DT_INT16:
    case DataType.DT_INT8:
    case DataType.DT_UINT8: {
      const value = integerIn(node, INT32);
      if (value === undefined) throw typeError(node, dtype);
      return Number(value);
    }
    case DataType.DT_STRING:
      if (node.kind !== 'string') throw typeError(node, dtype);
      return node.bytes;
    case DataType.DT_INT64:
      return integerIn(node, INT64) ?? throwError(typeError(node, dtype));
    case DataType.DT_BOOL:
      if (node.kind !== 'bool') throw typeError(node, dtype);
      return node.value ? 1 : 0;
    case DataType.DT_UINT32: {
      const value = integerIn(node, UINT32);
      if (value === undefined) throw typeError(node, dtype);
      return Number(value);
    }
    case DataType.DT_UINT64:
      return integerIn(node, UINT64) ?? throwError(typeError(node, dtype));
    default:
      throw new TensorCodecError(
        'UNSUPPORTED_DTYPE',
        `Conversion of JSON Value: ${jsonDebugString(node)} to type: ${dataTypeString(dtype)}`,
      );
  }
}

function throwError(error: Error): never {
  throw error;
}

/** Values in row-major order, checking every list against the shape (json_tensor.cc FillTensorProto). */
function collect(
  node: JsonNode,
  level: number,
  shape: readonly number[],
  dtype: DataType,
  out: unknown[],
): void {
  const rank = shape.length;
  if (node.kind !== 'array') {
    if (level !== rank) {
      throw invalid(
        `JSON Value: ${jsonDebugString(node)} found at incorrect level: ${level + 1} in the JSON DOM. Expected at level: ${rank}`,
      );
    }
    out.push(scalar(node, dtype));
    return;
  }
  if (level >= rank) throw invalid(`Encountered list at unexpected level: ${level} expected < ${rank}`);
  if (node.items.length !== shape[level]) {
    throw invalid(
      `Encountered list at unexpected size: ${node.items.length} at level: ${level} expected size: ${shape[level]}`,
    );
  }
  for (const item of node.items) collect(item, level + 1, shape, dtype, out);
}

/** The collected values in the dtype's typed array (scalar() checked each one); strings stay byte strings. */
function toTensor(dtype: DataType, shape: number[], values: unknown[]): Tensor {
  const ArrayType = dataTypeInfo(dtype)?.array;
  if (!ArrayType) return { dtype: DataType.DT_STRING, shape, values: values as Uint8Array[] };
  const typed = new ArrayType(values.length);
  (typed as { set(source: ArrayLike<unknown>): void }).set(values);
  return { dtype, shape, values: typed } as Tensor;
}

/** One JSON tensor of a known dtype; the shape is read off the first elements. */
function readTensor(node: JsonNode, dtype: DataType): { shape: number[]; values: unknown[] } {
  const shape = denseShape(node);
  const values: unknown[] = [];
  collect(node, 0, shape, dtype, values);
  return { shape, values };
}

const statusString = (error: unknown) =>
  error instanceof TensorCodecError ? error.toStatusString() : String(error);

function fromInstances(
  list: JsonNode & { kind: 'array' },
  dtypes: ReadonlyMap<string, DataType>,
  key = 'instances',
) {
  const first = list.items[0] as JsonNode;
  if (first.kind !== 'object' && dtypes.size > 1) {
    throw invalid(
      `${key} is a plain list, but expecting list of objects as multiple input tensors required as per tensorinfo_map`,
    );
  }
  const isNamed = (node: JsonNode) => node.kind === 'object' && !isBase64Object(node);
  const named = isNamed(first);
  const inputNames = [...dtypes.keys()].sort();
  const rows = new Map<string, { shape: number[]; size: number; values: unknown[] }>();
  const add = (name: string, item: JsonNode) => {
    const dtype = dtypes.get(name);
    if (dtype === undefined) throw invalid(`JSON object: does not have named input: ${name}`);
    const { shape, values } = readTensor(item, dtype);
    const seen = rows.get(name);
    if (!seen) {
      rows.set(name, { shape, size: values.length, values });
      return;
    }
    if (seen.size !== values.length)
      throw invalid(`Expecting tensor size: ${seen.size} but got: ${values.length}`);
    if (seen.shape.join() !== shape.join()) {
      throw invalid(`Expecting shape [${seen.shape.join(',')}] but got: [${shape.join(',')}]`);
    }
    seen.values.push(...values);
  };
  list.items.forEach((item, index) => {
    if (named) {
      if (!isNamed(item)) throw invalid(`Expecting object but got list at item ${index} of input list`);
      const keys = new Set<string>();
      for (const [name, value] of (item as JsonNode & { kind: 'object' }).members) {
        keys.add(name);
        try {
          add(name, value);
        } catch (error) {
          throw invalid(
            `Failed to process element: ${index} key: ${name} of '${key}' list. Error: ${statusString(error)}`,
          );
        }
      }
      if ([...keys].sort().join() !== inputNames.join()) {
        throw invalid(
          `Failed to process element: ${index} of '${key}' list. JSON object: ${jsonDebugString(item)} keys must be equal to: ${inputNames.join(',')}`,
        );
      }
      return;
    }
    if (isNamed(item)) throw invalid(`Expecting value/list but got object at item ${index} of input list`);
    try {
      add(inputNames[0] as string, item);
    } catch (error) {
      throw invalid(`Failed to process element: ${index} of '${key}' list. Error: ${statusString(error)}`);
    }
  });
  const inputs: Record<string, Tensor> = {};
  for (const [name, { shape, values }] of rows) {
    inputs[name] = toTensor(dtypes.get(name) as DataType, [list.items.length, ...shape], values);
  }
  return inputs;
}

function fromColumns(
  value: JsonNode,
  dtypes: ReadonlyMap<string, DataType>,
  key = 'inputs',
): Record<string, Tensor> {
  const names = [...dtypes.keys()].sort();
  if (value.kind !== 'object' || isBase64Object(value)) {
    if (dtypes.size > 1) {
      throw invalid(
        `${key} is a plain value/list, but expecting an object as multiple input tensors required as per tensorinfo_map`,
      );
    }
    const name = names[0] as string;
    const dtype = dtypes.get(name) as DataType;
    const { shape, values } = readTensor(value, dtype);
    return { [name]: toTensor(dtype, shape, values) };
  }
  const inputs: Record<string, Tensor> = {};
  for (const name of names) {
    const item = member(value, name);
    if (!item) throw invalid(`Missing named input: ${name} in '${key}' object.`);
    const dtype = dtypes.get(name) as DataType;
    const { shape, values } = readTensor(item, dtype);
    inputs[name] = toTensor(dtype, shape, values);
  }
  return inputs;
}

/** A request body's root object and its signature_name ('' when absent), read alike for every request kind. */
function requestRoot(body: Uint8Array): { doc: JsonNode; signatureName: string } {
  const doc = parseRestDocument(body);
  if (doc.kind !== 'object') throw formatError(doc, 'Is not object');
  const signature = member(doc, 'signature_name');
  if (signature && signature.kind !== 'string') {
    throw formatError(doc, "not formatted correctly. 'signature_name' key must be a string value.");
  }
  return { doc, signatureName: signature?.kind === 'string' ? signature.text : '' };
}

/** Reads a `:predict` body (json_tensor.cc FillPredictRequestFromJson). */
export function readPredictJson(body: Uint8Array, inputDtypes: InputDtypes): PredictJsonRequest {
  const { doc, signatureName } = requestRoot(body);
  const dtypes = inputDtypes(signatureName);
  if (dtypes.size === 0) {
    throw invalid(
      `Failed to get input map for signature: ${signatureName === '' ? 'DEFAULT' : signatureName}`,
    );
  }
  const instances = member(doc, 'instances');
  const inputs = member(doc, 'inputs');
  if (instances && inputs) {
    throw formatError(
      doc,
      "Not formatted correctly expecting only one of 'inputs' or 'instances' keys to exist ",
    );
  }
  if (instances) {
    if (instances.kind !== 'array') throw formatError(doc, "Expecting 'instances' to be an list/array");
    if (instances.items.length === 0) throw formatError(doc, "No values in 'instances' array");
    return { format: 'row', signatureName, inputs: fromInstances(instances, dtypes) };
  }
  if (inputs) return { format: 'columnar', signatureName, inputs: fromColumns(inputs, dtypes) };
  throw invalid("Missing 'inputs' or 'instances' key");
}

export interface PredictJsonResponse {
  format: PredictFormat;
  outputs: Record<string, Tensor>;
}

/**
 * Reads a `:predict` answer (`predictions` or `outputs`) back into tensors of the given output dtypes, by the
 * same rules the server reads requests with: exact 64-bit integers, range checks, base64 checks.
 */
export function readPredictResponseJson(
  body: Uint8Array,
  outputDtypes: ReadonlyMap<string, DataType>,
): PredictJsonResponse {
  const doc = parseRestDocument(body);
  if (doc.kind !== 'object') throw formatError(doc, 'Is not object');
  const error = member(doc, 'error');
  if (error?.kind === 'string') throw invalid(`server answered an error: ${error.text}`);
  const predictions = member(doc, 'predictions');
  if (predictions) {
    if (predictions.kind !== 'array') throw formatError(doc, "Expecting 'predictions' to be an list/array");
    if (predictions.items.length === 0) return { format: 'row', outputs: emptyRows(outputDtypes) };
    return { format: 'row', outputs: fromInstances(predictions, outputDtypes, 'predictions') };
  }
  const outputs = member(doc, 'outputs');
  if (outputs) return { format: 'columnar', outputs: fromColumns(outputs, outputDtypes, 'outputs') };
  throw invalid("Missing 'outputs' or 'predictions' key");
}

/** A batch of 0 rows: TF Serving writes `"predictions": []`, which says nothing of the inner dims. */
function emptyRows(dtypes: ReadonlyMap<string, DataType>): Record<string, Tensor> {
  return Object.fromEntries([...dtypes].map(([name, dtype]) => [name, toTensor(dtype, [0], [])]));
}

/** One element as TF Serving writes it (json_tensor.cc AddSingleValueAndAdvance). */
function writeElement(writer: PrettyJsonWriter, tensor: Tensor, index: number, asBytes: boolean): void {
  switch (tensor.dtype) {
    case DataType.DT_FLOAT:
      writer.value(formatDecimal(tensor.values[index] as number, 'float'));
      return;
    case DataType.DT_DOUBLE:
      writer.value(formatDecimal(tensor.values[index] as number, 'double'));
      return;
    case DataType.DT_BOOL:
      writer.value(tensor.values[index] ? 'true' : 'false');
      return;
    case DataType.DT_STRING: {
      const bytes = tensor.values[index] as Uint8Array;
      if (asBytes) {
        writer.startObject().key('b64').string(Buffer.from(bytes).toString('base64')).endObject();
      } else {
        writer.string(new TextDecoder().decode(bytes));
      }
      return;
    }
    case DataType.DT_INT32:
    case DataType.DT_INT16:
    case DataType.DT_INT8:
    case DataType.DT_UINT8:
    case DataType.DT_INT64:
    case DataType.DT_UINT32:
    case DataType.DT_UINT64:
      writer.value(String(tensor.values[index]));
      return;
    default:
      throw invalid(`Failed to write JSON value for tensor type: ${dataTypeString(tensor.dtype)}`);
  }
}

/** Values of dims `dim..` starting at element `offset` (json_tensor.cc AddTensorValues); returns the next offset. */
function writeValues(
  writer: PrettyJsonWriter,
  tensor: Tensor,
  asBytes: boolean,
  dim: number,
  offset: number,
): number {
  const rank = tensor.shape.length;
  if (dim > rank - 1) {
    writeElement(writer, tensor, offset, asBytes);
    return offset + 1;
  }
  writer.startArray();
  let next = offset;
  for (let i = 0; i < (tensor.shape[dim] as number); i++)
    next = writeValues(writer, tensor, asBytes, dim + 1, next);
  writer.endArray();
  return next;
}

const isBytes = (alias: string, tensor: Tensor) =>
  tensor.dtype === DataType.DT_STRING && alias.endsWith('_bytes');

/** The `:predict` answer: `predictions` (row) or `outputs` (columnar); a lone output goes without its name. */
export function writePredictJson(
  outputs: readonly [alias: string, tensor: Tensor][],
  format: PredictFormat,
): string {
  if (outputs.length === 0) throw invalid('Cannot convert empty tensor map to JSON');
  const writer = new PrettyJsonWriter();
  const named = outputs.length > 1;
  writer.startObject();
  if (format === 'columnar') {
    writer.key('outputs');
    if (named) writer.startObject();
    for (const [alias, tensor] of outputs) {
      if (named) writer.key(alias);
      writeValues(writer, tensor, isBytes(alias, tensor), 0, 0);
    }
    if (named) writer.endObject();
    return writer.endObject().toString();
  }
  let batch = -1;
  for (const [alias, tensor] of outputs) {
    const rows = tensor.shape[0];
    if (rows === undefined) throw invalid(`Tensor name: ${alias} has no shape information `);
    if (batch >= 0 && rows !== batch) {
      throw invalid(`Tensor name: ${alias} has inconsistent batch size: ${rows} expecting: ${batch}`);
    }
    batch = rows;
  }
  writer.key('predictions').startArray();
  const offsets = outputs.map(() => 0);
  for (let row = 0; row < batch; row++) {
    if (named) writer.startObject();
    writer.singleLineArrays = true;
    outputs.forEach(([alias, tensor], i) => {
      if (named) writer.key(alias);
      offsets[i] = writeValues(writer, tensor, isBytes(alias, tensor), 1, offsets[i] as number);
    });
    writer.singleLineArrays = false;
    if (named) writer.endObject();
  }
  writer.endArray();
  return writer.endObject().toString();
}

/** A `:classify` or `:regress` body as json_tensor.cc FillClassifyRegressRequestFromJson reads it. */
export interface ClassifyRegressJsonRequest {
  /** As sent; empty means serving_default. */
  signatureName: string;
  input: MessageInitShape<typeof InputSchema>;
}

type FeatureInit = MessageInitShape<typeof FeatureSchema>;
type FeatureKind = 'bytesList' | 'floatList' | 'int64List';

/** json_tensor.cc IncompatibleFeatureKindError. */
function incompatibleKind(name: string, kind: FeatureKind | undefined): TensorCodecError {
  const names: Record<FeatureKind, string> = { bytesList: 'bytes', floatList: 'float', int64List: 'int64' };
  return invalid(
    `Unexpected element type in feature: ${name} expecting type: ${kind ? names[kind] : 'UNKNOWN'}`,
  );
}

/** json_tensor.cc AddValueToFeature: the feature's kind is set by its first value; the rest must agree. */
function addFeatureValue(
  node: JsonNode,
  name: string,
  feature: { kind?: FeatureKind; values: unknown[] },
): void {
  const want = (kind: FeatureKind) => {
    if (feature.kind !== undefined && feature.kind !== kind) throw incompatibleKind(name, feature.kind);
    feature.kind = kind;
  };
  const unexpected = () =>
    invalid(`Feature: ${name} has element with unexpected JSON type: ${jsonTypeName(node)}`);
  switch (node.kind) {
    case 'null':
    case 'array':
      throw unexpected();
    case 'bool':
      want('int64List');
      feature.values.push(node.value ? 1n : 0n);
      return;
    case 'object':
      if (!isBase64Object(node)) throw unexpected();
      want('bytesList');
      feature.values.push(base64Bytes(node));
      return;
    case 'string':
      want('bytesList');
      feature.values.push(node.bytes);
      return;
    case 'number':
      if (node.integer === undefined) {
        want('floatList');
        feature.values.push(Math.fround(node.value));
        return;
      }
      want('int64List');
      if (node.integer > INT64[1])
        throw invalid(`Feature: ${name} has uint64_t element. Only int64_t is supported.`);
      feature.values.push(node.integer);
      return;
  }
}

/** json_tensor.cc MakeExampleFromJsonObject. */
function exampleFromJson(node: JsonNode): MessageInitShape<typeof ExampleSchema> {
  if (node.kind !== 'object') throw invalid(`Example must be JSON object but got JSON ${jsonTypeName(node)}`);
  const feature: Record<string, FeatureInit> = {};
  for (const [name, content] of node.members) {
    const collected: { kind?: FeatureKind; values: unknown[] } = { values: [] };
    for (const item of content.kind === 'array' ? content.items : [content])
      addFeatureValue(item, name, collected);
    feature[name] = collected.kind
      ? ({ kind: { case: collected.kind, value: { value: collected.values } } } as FeatureInit)
      : {};
  }
  return { features: { feature } };
}

/**
 * Reads a `:classify` or `:regress` body (json_tensor.cc FillClassifyRegressRequestFromJson): optional
 * `signature_name` and `context`, and `examples`, each an object of feature name -> value or list of values
 * (integers int64, other numbers float, strings and `{"b64": ...}` bytes, booleans 0/1).
 */
export function readClassifyRegressJson(body: Uint8Array): ClassifyRegressJsonRequest {
  const { doc, signatureName } = requestRoot(body);
  const contextNode = member(doc, 'context');
  const context = contextNode ? exampleFromJson(contextNode) : undefined;
  const examplesNode = member(doc, 'examples');
  // "When method is classify" for :regress too: json_tensor.cc shares the message.
  if (!examplesNode)
    throw formatError(doc, "When method is classify, key 'examples' is expected and was not found");
  if (examplesNode.kind !== 'array') throw formatError(doc, "Expecting 'examples' value to be an list/array");
  if (examplesNode.items.length === 0) throw formatError(doc, "'examples' value is an empty array");
  const examples = examplesNode.items.map(exampleFromJson);
  return {
    signatureName,
    input: context
      ? { kind: { case: 'exampleListWithContext', value: { context, examples } } }
      : { kind: { case: 'exampleList', value: { examples } } },
  };
}

/** json_tensor.cc MakeJsonFromClassificationResult: `{"results": [[["label", score], ...], ...]}`. */
export function writeClassificationJson(result: ClassificationResult): string {
  if (result.classifications.length === 0)
    throw invalid('Cannot convert empty ClassificationResults to JSON');
  const writer = new PrettyJsonWriter();
  writer.startObject().key('results').startArray();
  for (const classifications of result.classifications) {
    writer.singleLineArrays = true;
    writer.startArray();
    for (const item of classifications.classes) {
      writer.startArray().string(item.label).value(formatDecimal(item.score, 'float')).endArray();
    }
    writer.endArray();
    writer.singleLineArrays = false;
  }
  writer.endArray();
  return writer.endObject().toString();
}

/** json_tensor.cc MakeJsonFromRegressionResult: `{"results": [v, ...]}`. */
export function writeRegressionJson(result: RegressionResult): string {
  if (result.regressions.length === 0) throw invalid('Cannot convert empty RegressionResults to JSON');
  const writer = new PrettyJsonWriter();
  writer.startObject().key('results');
  writer.singleLineArrays = true;
  writer.startArray();
  for (const regression of result.regressions) writer.value(formatDecimal(regression.value, 'float'));
  writer.endArray();
  return writer.endObject().toString();
}
