import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TensorProtoSchema } from './gen/tensorflow/core/framework/tensor_pb.js';
import { DataType } from './gen/tensorflow/core/framework/types_pb.js';
import { PredictRequestSchema } from './gen/tensorflow_serving/apis/predict_pb.js';
import type { Tensor } from './tensor.js';
import { decodeTensor, encodeTensor } from './tensor-codec.js';
import { encodePredictRequestBinary, encodeTensorBinary } from './tensor-wire.js';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

describe('encodeTensorBinary', () => {
  it('writes the same bytes as protobuf-es for any float32 tensor', () => {
    fc.assert(
      fc.property(fc.array(fc.float(), { maxLength: 300 }), (values) => {
        const tensor: Tensor = {
          dtype: DataType.DT_FLOAT,
          shape: [values.length],
          values: Float32Array.from(values),
        };
        expect(hex(encodeTensorBinary(tensor))).toBe(hex(toBinary(TensorProtoSchema, encodeTensor(tensor))));
      }),
    );
  });

  it('uses a two-byte length for content of 128 bytes and more', () => {
    const tensor: Tensor = { dtype: DataType.DT_UINT8, shape: [200], values: new Uint8Array(200).fill(7) };
    const bytes = encodeTensorBinary(tensor);
    // 08 04 | 12 05 12 03 08 c8 01 | 22 c8 01 ...
    expect(hex(bytes.subarray(0, 12))).toBe('08041205120308c80122c801');
    expect(decodeTensor(fromBinary(TensorProtoSchema, bytes)).values).toEqual(tensor.values);
  });

  it('falls back to the ordinary writer for strings and the repeated form', () => {
    const strings: Tensor = { dtype: DataType.DT_STRING, shape: [1], values: [Uint8Array.of(1)] };
    expect(hex(encodeTensorBinary(strings))).toBe(hex(toBinary(TensorProtoSchema, encodeTensor(strings))));
    const ints: Tensor = { dtype: DataType.DT_INT32, shape: [2], values: Int32Array.of(1, -1) };
    expect(hex(encodeTensorBinary(ints, { form: 'repeated' }))).toBe(
      hex(toBinary(TensorProtoSchema, encodeTensor(ints, { form: 'repeated' }))),
    );
  });
});

describe('encodePredictRequestBinary', () => {
  it('produces a PredictRequest that parses to the same message as the protobuf-es one', () => {
    const x: Tensor = { dtype: DataType.DT_FLOAT, shape: [2, 2], values: Float32Array.of(1, 2, 3, 4) };
    const name: Tensor = { dtype: DataType.DT_STRING, shape: [], values: [new TextEncoder().encode('é')] };
    const bytes = encodePredictRequestBinary({
      request: {
        modelSpec: create(PredictRequestSchema, { modelSpec: { name: 'm', signatureName: 's' } }).modelSpec,
        outputFilter: ['y'],
      },
      inputs: { x, 'name/é': name },
    });
    const expected = create(PredictRequestSchema, {
      modelSpec: { name: 'm', signatureName: 's' },
      outputFilter: ['y'],
      inputs: { x: encodeTensor(x), 'name/é': encodeTensor(name) },
    });
    const parsed = fromBinary(PredictRequestSchema, bytes);
    expect(toBinary(PredictRequestSchema, parsed)).toEqual(toBinary(PredictRequestSchema, expected));
  });
});
