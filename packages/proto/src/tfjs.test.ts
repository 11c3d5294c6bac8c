import '@tensorflow/tfjs-backend-cpu';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { TensorProtoSchema } from './gen/tensorflow/core/framework/tensor_pb.js';
import { DataType } from './gen/tensorflow/core/framework/types_pb.js';
import { encodeTensor } from './tensor-codec.js';
import { fromTfTensor, tensorProtoToTf, tfToTensorProto, toTfTensor } from './tfjs.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('tfjs interop', () => {
  it('turns a float32 TensorProto into a tf.Tensor that computes', () => {
    const proto = encodeTensor({ dtype: DataType.DT_FLOAT, shape: [3], values: Float32Array.of(0, 2, 10) });
    const x = tensorProtoToTf(fromBinary(TensorProtoSchema, toBinary(TensorProtoSchema, proto)));
    const y = tf.add(tf.mul(x, 0.5), 2);
    expect(y.dtype).toBe('float32');
    expect(Array.from(y.dataSync())).toEqual([2, 3, 7]);
  });

  it('widens half to float32 and narrows int64 to int32', () => {
    const half = toTfTensor({ dtype: DataType.DT_HALF, shape: [2], values: Uint16Array.of(0x3c00, 0xc100) });
    expect(Array.from(half.dataSync())).toEqual([1, -2.5]);
    const ints = toTfTensor({ dtype: DataType.DT_INT64, shape: [2, 1], values: BigInt64Array.of(-5n, 7n) });
    expect(ints.dtype).toBe('int32');
    expect(ints.shape).toEqual([2, 1]);
    expect(Array.from(ints.dataSync())).toEqual([-5, 7]);
  });

  it('refuses an int64 value that int32 cannot hold, naming it', () => {
    expect(() =>
      toTfTensor({ dtype: DataType.DT_INT64, shape: [1], values: BigInt64Array.of(2n ** 40n) }, 'ids'),
    ).toThrow('ids: DT_INT64 element 0 is 1099511627776, outside int32, the widest integer tfjs holds');
  });

  // What tfjs-node returns for a TensorFlow int64 output: an 'int32' tensor whose data is a BigInt64Array.
  const int64Output = (values: bigint[]) =>
    ({
      dtype: 'int32',
      shape: [values.length],
      dataSync: () => BigInt64Array.from(values),
    }) as unknown as tf.Tensor;

  it('reads int64 outputs of tfjs-node exactly, past 2^53 included', () => {
    expect(fromTfTensor(int64Output([0n, 2n ** 62n + 1n, -3n]), DataType.DT_INT64).values).toEqual(
      BigInt64Array.of(0n, 2n ** 62n + 1n, -3n),
    );
    expect(fromTfTensor(int64Output([7n]), DataType.DT_INT32).values).toEqual(Int32Array.of(7));
    expect(() => fromTfTensor(int64Output([2n ** 40n]), DataType.DT_INT32, 'ids')).toThrow(
      'ids: element 0 is 1099511627776; DT_INT32 needs an integer in range',
    );
  });

  it('keeps strings as bytes both ways', () => {
    const bytes = [Uint8Array.of(0xff, 0), new TextEncoder().encode('ok')];
    const t = toTfTensor({ dtype: DataType.DT_STRING, shape: [2], values: bytes });
    const back = fromTfTensor(t);
    expect(back.dtype).toBe(DataType.DT_STRING);
    expect((back.values as Uint8Array[]).map((b) => Array.from(b))).toEqual([
      [0xff, 0],
      [0x6f, 0x6b],
    ]);
  });

  it('writes a tf.Tensor as the dtype asked for, refusing values that do not fit', () => {
    const proto = tfToTensorProto(tf.tensor([1, 255], [2], 'int32'), DataType.DT_UINT8);
    expect(proto.dtype).toBe(DataType.DT_UINT8);
    expect(Array.from(proto.tensorContent)).toEqual([1, 255]);
    expect(() => tfToTensorProto(tf.tensor([256], [1], 'int32'), DataType.DT_UINT8, { name: 'px' })).toThrow(
      'px: element 0 is 256; DT_UINT8 needs an integer in range',
    );
    const bools = fromTfTensor(tf.tensor([true, false], [2], 'bool'));
    expect(bools).toEqual({ dtype: DataType.DT_BOOL, shape: [2], values: Uint8Array.of(1, 0) });
  });
});
