import { toJson } from '@bufbuild/protobuf';
import {
  DataType,
  ModelVersionStatus_State,
  type SignatureDef,
  type TensorInfo,
  TensorInfoSchema,
  TensorProtoSchema,
  type TensorShapeProto,
} from '@modelgate/proto';
import type { VersionStatus } from './servable-manager.js';
import { codeName } from './tf-serving-error.js';

// The status and metadata bodies of TF Serving's REST API, which protobuf's C++ JSON printer writes
// (model_servers/http_rest_api_util.cc ToJsonString: add_whitespace, always_print_fields_with_no_presence,
// and for metadata preserve_proto_field_names): one-space indent, `"key": value`, a newline at the end, fields
// in field-number order with set oneof members after them, int64 as strings, enums by name.

type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** protobuf's C++ JSON printer with add_whitespace. */
function print(value: JsonValue, depth = 0): string {
  const indent = ' '.repeat(depth + 1);
  const closing = ' '.repeat(depth);
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[\n${value.map((item) => indent + print(item, depth + 1)).join(',\n')}\n${closing}]`;
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    if (entries.length === 0) return '{}';
    const members = entries.map(
      ([key, item]) => `${indent}${JSON.stringify(key)}: ${print(item, depth + 1)}`,
    );
    return `{\n${members.join(',\n')}\n${closing}}`;
  }
  return JSON.stringify(value);
}

/** A whole message as MessageToJsonString writes it, trailing newline included. */
const printMessage = (value: JsonValue) => `${print(value)}\n`;

/** The GET /v1/models/<m>[/versions/<v>] body. */
export function modelStatusJson(statuses: readonly VersionStatus[]): string {
  return printMessage({
    model_version_status: statuses.map((status) => ({
      version: String(status.version),
      state: ModelVersionStatus_State[status.state] ?? 'UNKNOWN',
      status: { error_code: codeName(status.errorCode), error_message: status.errorMessage },
    })),
  });
}

function shapeJson(shape: TensorShapeProto | undefined): JsonValue {
  return {
    dim: (shape?.dim ?? []).map((dim) => ({ size: String(dim.size), name: dim.name })),
    unknown_rank: shape?.unknownRank ?? false,
  };
}

function tensorInfoJson(info: TensorInfo): JsonValue {
  const json: Record<string, JsonValue> = {
    dtype: DataType[info.dtype] ?? 'DT_INVALID',
    tensor_shape: shapeJson(info.tensorShape),
  };
  const { encoding } = info;
  if (encoding.case === 'name') json.name = encoding.value;
  else if (encoding.case !== undefined) {
    // Sparse and composite encodings are rare in serving signatures; protobuf-es prints them.
    const printed = toJson(TensorInfoSchema, info, { useProtoFieldName: true }) as Record<string, JsonValue>;
    const key = encoding.case === 'cooSparse' ? 'coo_sparse' : 'composite_tensor';
    json[key] = printed[key] ?? null;
  }
  return json;
}

const sortedEntries = <T>(record: Readonly<Record<string, T>>) =>
  Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

function signatureJson(signature: SignatureDef): JsonValue {
  return {
    inputs: Object.fromEntries(
      sortedEntries(signature.inputs).map(([alias, info]) => [alias, tensorInfoJson(info)]),
    ),
    outputs: Object.fromEntries(
      sortedEntries(signature.outputs).map(([alias, info]) => [alias, tensorInfoJson(info)]),
    ),
    method_name: signature.methodName,
    defaults: Object.fromEntries(
      sortedEntries(signature.defaults).map(([alias, tensor]) => [
        alias,
        toJson(TensorProtoSchema, tensor, { useProtoFieldName: true }) as JsonValue,
      ]),
    ),
  };
}

/**
 * The GET /v1/models/<m>[...]/metadata body, which TF Serving pieces together from two printed messages
 * (http_rest_api_util.cc): `{\n"model_spec":<ModelSpec>,\n"metadata": {"signature_def": <SignatureDefMap>}\n}\n`.
 */
export function modelMetadataJson(
  name: string,
  version: bigint,
  signatures: Readonly<Record<string, SignatureDef>>,
): string {
  const modelSpec = printMessage({ name, signature_name: '', version: String(version) });
  const signatureDefMap = printMessage({
    signature_def: Object.fromEntries(
      sortedEntries(signatures).map(([key, signature]) => [key, signatureJson(signature)]),
    ),
  });
  return `{\n"model_spec":${modelSpec},\n"metadata": {"signature_def": ${signatureDefMap}}\n}\n`;
}
