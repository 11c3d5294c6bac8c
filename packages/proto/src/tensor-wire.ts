import { create, toBinary } from '@bufbuild/protobuf';
import { TensorProtoSchema } from './gen/tensorflow/core/framework/tensor_pb.js';
import { type PredictRequest, PredictRequestSchema } from './gen/tensorflow_serving/apis/predict_pb.js';
import type { Tensor } from './tensor.js';
import { type EncodeTensorOptions, encodeTensor } from './tensor-codec.js';

// protobuf-es's writer grows a buffer by doubling and slices it at the end, so a 4 MiB tensor_content costs an
// 8 MiB allocation and two copies. These builders size the output once and copy the payload once: a TensorProto
// is its small header (dtype, shape) followed by field 4, and a PredictRequest's inputs are map entries that can
// be appended after the other fields. Both produce bytes any protobuf parser reads as the same message.

const TENSOR_CONTENT_TAG = (4 << 3) | 2;
const PREDICT_INPUTS_TAG = (2 << 3) | 2;
const MAP_KEY_TAG = (1 << 3) | 2;
const MAP_VALUE_TAG = (2 << 3) | 2;

function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

function writeVarint(out: Uint8Array, offset: number, value: number): number {
  while (value >= 0x80) {
    out[offset++] = (value & 0x7f) | 0x80;
    value = Math.floor(value / 128);
  }
  out[offset++] = value;
  return offset;
}

/**
 * A serialized TensorProto, sized once with the payload copied once. Numeric tensors go in tensor_content
 * unless `form: 'repeated'` is asked for, which (like strings) goes through protobuf-es's writer.
 */
export function encodeTensorBinary(tensor: Tensor, options: EncodeTensorOptions = {}): Uint8Array {
  const proto = encodeTensor(tensor, options);
  const content = proto.tensorContent;
  if (content.byteLength === 0) return toBinary(TensorProtoSchema, proto);
  proto.tensorContent = new Uint8Array(0);
  const header = toBinary(TensorProtoSchema, proto);
  const out = new Uint8Array(header.byteLength + 1 + varintSize(content.byteLength) + content.byteLength);
  out.set(header);
  let offset = header.byteLength;
  out[offset++] = TENSOR_CONTENT_TAG;
  offset = writeVarint(out, offset, content.byteLength);
  out.set(content, offset);
  return out;
}

export interface PredictRequestBinaryInit {
  /** Everything but the inputs: model_spec, output_filter, ... */
  request: Omit<PredictRequest, 'inputs' | '$typeName'> | PredictRequest;
  inputs: Record<string, Tensor>;
  tensorOptions?: EncodeTensorOptions;
}

/** A serialized PredictRequest whose input payloads are each copied once (see encodeTensorBinary). */
export function encodePredictRequestBinary(init: PredictRequestBinaryInit): Uint8Array {
  const head = toBinary(PredictRequestSchema, create(PredictRequestSchema, { ...init.request, inputs: {} }));
  const encoder = new TextEncoder();
  const entries = Object.entries(init.inputs).map(([name, tensor]) => {
    const key = encoder.encode(name);
    const value = encodeTensorBinary(tensor, { ...init.tensorOptions, name });
    const size =
      1 + varintSize(key.byteLength) + key.byteLength + 1 + varintSize(value.byteLength) + value.byteLength;
    return { key, value, size };
  });
  const total = entries.reduce(
    (sum, entry) => sum + 1 + varintSize(entry.size) + entry.size,
    head.byteLength,
  );
  const out = new Uint8Array(total);
  out.set(head);
  let offset = head.byteLength;
  for (const { key, value, size } of entries) {
    out[offset++] = PREDICT_INPUTS_TAG;
    offset = writeVarint(out, offset, size);
    out[offset++] = MAP_KEY_TAG;
    offset = writeVarint(out, offset, key.byteLength);
    out.set(key, offset);
    offset += key.byteLength;
    out[offset++] = MAP_VALUE_TAG;
    offset = writeVarint(out, offset, value.byteLength);
    out.set(value, offset);
    offset += value.byteLength;
  }
  return out;
}
