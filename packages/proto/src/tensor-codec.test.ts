import { readFileSync } from 'node:fs';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { status } from '@grpc/grpc-js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TensorProtoSchema } from './gen/tensorflow/core/framework/tensor_pb.js';
import { DataType } from './gen/tensorflow/core/framework/types_pb.js';
import {
  dataTypeInfo,
  elementCount,
  type SupportedDataType,
  type Tensor,
  type TensorValues,
} from './tensor.js';
import { decodeTensor, encodeTensor } from './tensor-codec.js';
import { TensorCodecError } from './tensor-codec-error.js';

interface TensorFlowCase {
  name: string;
  dtype: string;
  dtypeEnum: number;
  shape: number[];
  field: string;
  values: (number | string | boolean)[];
  protoHex: string;
}

// Made by real TensorFlow (tf.make_tensor_proto and tensor_pb2): scripts/make_tensor_protos.py.
const TENSORFLOW = JSON.parse(
  readFileSync(new URL('../testdata/tensorflow-tensor-protos.json', import.meta.url), 'utf8'),
) as { tensorflow: string; cases: TensorFlowCase[] };

const FLOAT_TOKENS: Record<string, number> = {
  NaN: Number.NaN,
  Infinity: Number.POSITIVE_INFINITY,
  '-Infinity': Number.NEGATIVE_INFINITY,
};
const asNumber = (value: number | string | boolean) =>
  typeof value === 'string' ? (FLOAT_TOKENS[value] ?? Number(value)) : Number(value);

/** The values TensorFlow's make_ndarray read, in this package's in-memory form. */
function expectedValues(testCase: TensorFlowCase): TensorValues {
  const { values } = testCase;
  switch (testCase.dtypeEnum as DataType) {
    case DataType.DT_STRING:
      return values.map((value) => new Uint8Array(Buffer.from(String(value), 'base64')));
    case DataType.DT_INT64:
      return BigInt64Array.from(values.map((value) => BigInt(value)));
    case DataType.DT_UINT64:
      return BigUint64Array.from(values.map((value) => BigInt(value)));
    case DataType.DT_BOOL:
      return Uint8Array.from(values.map((value) => (value ? 1 : 0)));
    default: {
      const ArrayType = dataTypeInfo(testCase.dtypeEnum)?.array;
      if (!ArrayType) throw new Error(`no array type for ${testCase.dtype}`);
      const out = new ArrayType(values.length) as Float64Array;
      values.forEach((value, index) => {
        out[index] = asNumber(value);
      });
      return out as TensorValues;
    }
  }
}

/** Byte-exact comparison, so that NaN payloads and -0 count. */
function expectSameValues(actual: TensorValues, expected: TensorValues): void {
  if (Array.isArray(expected)) {
    expect((actual as Uint8Array[]).map((bytes) => Buffer.from(bytes).toString('hex'))).toEqual(
      expected.map((bytes) => Buffer.from(bytes).toString('hex')),
    );
    return;
  }
  expect(actual.constructor).toBe(expected.constructor);
  const view = (values: TensorValues) =>
    Buffer.from(
      (values as Uint8Array).buffer,
      (values as Uint8Array).byteOffset,
      (values as Uint8Array).byteLength,
    );
  expect(view(actual).toString('hex')).toBe(view(expected).toString('hex'));
}

describe(`TensorProtos written by TensorFlow ${TENSORFLOW.tensorflow}`, () => {
  it('cover every supported dtype', () => {
    const dtypes = new Set(TENSORFLOW.cases.map((testCase) => testCase.dtypeEnum));
    expect(dtypes.size).toBe(14);
  });

  for (const testCase of TENSORFLOW.cases) {
    const proto = fromBinary(TensorProtoSchema, Buffer.from(testCase.protoHex, 'hex'));

    it(`decodes ${testCase.name} (${testCase.field}) to what make_ndarray read`, () => {
      const tensor = decodeTensor(proto);
      expect(tensor.dtype).toBe(testCase.dtypeEnum);
      expect(tensor.shape).toEqual(testCase.shape);
      expectSameValues(tensor.values, expectedValues(testCase));
    });

    // TF's broadcast form stores one value for many; everything else we write exactly as TF does.
    if (!testCase.name.endsWith('_broadcast')) {
      const form = testCase.field === 'tensor_content' ? 'content' : 'repeated';
      it(`encodes ${testCase.name} in the ${form} form byte for byte as TensorFlow`, () => {
        const tensor = {
          dtype: testCase.dtypeEnum,
          shape: testCase.shape,
          values: expectedValues(testCase),
        } as Tensor;
        const bytes = toBinary(TensorProtoSchema, encodeTensor(tensor, { form }));
        expect(Buffer.from(bytes).toString('hex')).toBe(testCase.protoHex);
      });
    }
  }
});

const shapeArbitrary = fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 0, maxLength: 4 });

function valuesArbitrary(dtype: SupportedDataType, count: number): fc.Arbitrary<TensorValues> {
  const many = <T>(item: fc.Arbitrary<T>) => fc.array(item, { minLength: count, maxLength: count });
  switch (dtype) {
    case DataType.DT_FLOAT:
      return many(fc.float()).map((values) => Float32Array.from(values));
    case DataType.DT_DOUBLE:
      return many(fc.double()).map((values) => Float64Array.from(values));
    case DataType.DT_INT64:
      return many(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })).map((values) =>
        BigInt64Array.from(values),
      );
    case DataType.DT_UINT64:
      return many(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })).map((values) => BigUint64Array.from(values));
    case DataType.DT_BOOL:
      return many(fc.boolean()).map((values) => Uint8Array.from(values, Number));
    case DataType.DT_STRING:
      return many(fc.uint8Array({ maxLength: 8 }));
    default: {
      const ArrayType = dataTypeInfo(dtype)?.array as unknown as {
        new (length: number): Int32Array;
        BYTES_PER_ELEMENT: number;
      };
      const bits = ArrayType.BYTES_PER_ELEMENT * 8;
      const signed = dtype === DataType.DT_INT8 || dtype === DataType.DT_INT16 || dtype === DataType.DT_INT32;
      const range = signed
        ? { min: -(2 ** (bits - 1)), max: 2 ** (bits - 1) - 1 }
        : { min: 0, max: 2 ** bits - 1 };
      return many(fc.integer(range)).map((values) => {
        const out = new ArrayType(count);
        out.set(values);
        return out as TensorValues;
      });
    }
  }
}

const SUPPORTED: SupportedDataType[] = [
  DataType.DT_FLOAT,
  DataType.DT_DOUBLE,
  DataType.DT_INT8,
  DataType.DT_INT16,
  DataType.DT_INT32,
  DataType.DT_INT64,
  DataType.DT_UINT8,
  DataType.DT_UINT16,
  DataType.DT_UINT32,
  DataType.DT_UINT64,
  DataType.DT_BOOL,
  DataType.DT_STRING,
  DataType.DT_HALF,
  DataType.DT_BFLOAT16,
];

describe('round trip through the wire', () => {
  for (const dtype of SUPPORTED) {
    for (const form of ['content', 'repeated'] as const) {
      it(`keeps ${DataType[dtype]} values and shapes exactly (${form} form)`, () => {
        const tensorArbitrary = shapeArbitrary.chain((shape) =>
          valuesArbitrary(dtype, elementCount(shape)).map((values) => ({ dtype, shape, values }) as Tensor),
        );
        fc.assert(
          fc.property(tensorArbitrary, (tensor) => {
            const wire = toBinary(TensorProtoSchema, encodeTensor(tensor, { form }));
            const decoded = decodeTensor(fromBinary(TensorProtoSchema, wire));
            expect(decoded.dtype).toBe(dtype);
            expect(decoded.shape).toEqual(tensor.shape);
            expectSameValues(decoded.values, tensor.values);
          }),
          { numRuns: 60 },
        );
      });
    }
  }
});

describe('decodeTensor', () => {
  it('reads tensor_content at an odd offset inside the message buffer', () => {
    const wire = toBinary(
      TensorProtoSchema,
      create(TensorProtoSchema, {
        dtype: DataType.DT_FLOAT,
        versionNumber: 0x1234,
        tensorShape: { dim: [{ size: 2n }] },
        tensorContent: new Uint8Array(Float32Array.of(1.5, -2).buffer),
      }),
    );
    const shifted = new Uint8Array(wire.length + 1);
    shifted.set(wire, 1);
    const proto = fromBinary(TensorProtoSchema, shifted.subarray(1));
    expect(proto.tensorContent.byteOffset % 4).not.toBe(0);
    expect(Array.from(decodeTensor(proto).values as Float32Array)).toEqual([1.5, -2]);
  });

  it('reads unpacked repeated fields (one tag per value)', () => {
    // 08 03 (DT_INT32) | 12 04 12 02 08 03 (shape [3]) | 38 01 38 7f 38 ff..01 (int_val 1, 127, -1 unpacked)
    const wire = Buffer.from('0803' + '120412020803' + '3801' + '387f' + '38ffffffffffffffffff01', 'hex');
    const tensor = decodeTensor(fromBinary(TensorProtoSchema, wire));
    expect(Array.from(tensor.values as Int32Array)).toEqual([1, 127, -1]);
  });

  it('pads a short repeated field with its last value, and an empty one with zeros, as TensorFlow does', () => {
    const padded = decodeTensor(
      create(TensorProtoSchema, {
        dtype: DataType.DT_DOUBLE,
        tensorShape: { dim: [{ size: 4n }] },
        doubleVal: [1, 2],
      }),
    );
    expect(Array.from(padded.values as Float64Array)).toEqual([1, 2, 2, 2]);
    const zeros = decodeTensor(
      create(TensorProtoSchema, { dtype: DataType.DT_INT64, tensorShape: { dim: [{ size: 2n }] } }),
    );
    expect(Array.from(zeros.values as BigInt64Array)).toEqual([0n, 0n]);
  });

  it('refuses tensor_content whose size does not match the shape, saying both', () => {
    const proto = create(TensorProtoSchema, {
      dtype: DataType.DT_FLOAT,
      tensorShape: { dim: [{ size: 3n }] },
      tensorContent: new Uint8Array(8),
    });
    expect(() => decodeTensor(proto, { name: 'x' })).toThrow(
      new TensorCodecError('CONTENT_SIZE', 'tensor_content has 8 bytes; DT_FLOAT of shape [3] needs 12', 'x'),
    );
  });

  it('refuses more repeated values than the shape holds', () => {
    const proto = create(TensorProtoSchema, {
      dtype: DataType.DT_FLOAT,
      tensorShape: { dim: [{ size: 1n }] },
      floatVal: [1, 2],
    });
    expect(() => decodeTensor(proto)).toThrow(/floatVal has 2 values; DT_FLOAT of this shape holds 1/);
  });

  it('refuses unknown rank and unknown dims', () => {
    const unknownRank = create(TensorProtoSchema, {
      dtype: DataType.DT_FLOAT,
      tensorShape: { unknownRank: true },
    });
    expect(() => decodeTensor(unknownRank)).toThrow(/unknown rank/);
    const unknownDim = create(TensorProtoSchema, {
      dtype: DataType.DT_FLOAT,
      tensorShape: { dim: [{ size: -1n }] },
    });
    expect(() => decodeTensor(unknownDim)).toThrow(/dim 0 has size -1/);
  });

  it('checks tensor_content against the shape before allocating: a huge shape is INVALID_ARGUMENT', () => {
    const proto = create(TensorProtoSchema, {
      dtype: DataType.DT_FLOAT,
      tensorShape: { dim: [{ size: 2n ** 40n }] },
      tensorContent: new Uint8Array(4),
    });
    expect(() => decodeTensor(proto, { name: 'x' })).toThrow(
      expect.objectContaining({ code: 'CONTENT_SIZE', grpcCode: status.INVALID_ARGUMENT }),
    );
  });

  it('bounds the elements a short repeated field may be broadcast to', () => {
    const floats = create(TensorProtoSchema, {
      dtype: DataType.DT_FLOAT,
      tensorShape: { dim: [{ size: 2n ** 40n }] },
      floatVal: [1],
    });
    expect(() => decodeTensor(floats, { name: 'x' })).toThrow(
      new TensorCodecError(
        'TOO_MANY_VALUES',
        `shape [${2 ** 40}] holds ${2 ** 40} elements; at most ${2 ** 28} are decoded`,
        'x',
      ),
    );
    // 14 bytes on the wire asking for 3 million strings.
    const strings = create(TensorProtoSchema, {
      dtype: DataType.DT_STRING,
      tensorShape: { dim: [{ size: 3_000_000n }] },
      stringVal: [new Uint8Array(1)],
    });
    expect(toBinary(TensorProtoSchema, strings).byteLength).toBeLessThan(16);
    expect(() => decodeTensor(strings, { maxElements: 1_000_000 })).toThrow(
      expect.objectContaining({ code: 'TOO_MANY_VALUES', grpcCode: status.INVALID_ARGUMENT }),
    );
    expect(decodeTensor(strings).values).toHaveLength(3_000_000);
  });

  it('refuses a shape whose element count is past 2^53', () => {
    const proto = create(TensorProtoSchema, {
      dtype: DataType.DT_FLOAT,
      tensorShape: { dim: [{ size: 2n ** 20n }, { size: 2n ** 20n }] },
    });
    expect(() => decodeTensor(proto)).toThrow(
      expect.objectContaining({ code: 'TOO_MANY_VALUES', grpcCode: status.INVALID_ARGUMENT }),
    );
    const beyond = create(TensorProtoSchema, {
      dtype: DataType.DT_FLOAT,
      tensorShape: { dim: [{ size: 2n ** 30n }, { size: 2n ** 30n }, { size: 2n ** 30n }] },
    });
    expect(() => decodeTensor(beyond)).toThrow(
      expect.objectContaining({ code: 'UNKNOWN_SHAPE', grpcCode: status.INVALID_ARGUMENT }),
    );
  });

  it('names the dtype it cannot decode', () => {
    const proto = create(TensorProtoSchema, { dtype: DataType.DT_COMPLEX64 });
    expect(() => decodeTensor(proto)).toThrow(/DT_COMPLEX64 is not supported/);
  });
});

describe('encodeTensor', () => {
  it('refuses values that do not fill the shape, saying both counts', () => {
    const tensor = { dtype: DataType.DT_FLOAT, shape: [2, 2], values: new Float32Array(3) } as Tensor;
    expect(() => encodeTensor(tensor, { name: 'x' })).toThrow(
      new TensorCodecError('SHAPE_MISMATCH', 'shape [2,2] holds 4 values but 3 were given', 'x'),
    );
  });

  it.each([
    [
      'a Float64Array for DT_FLOAT',
      DataType.DT_FLOAT,
      Float64Array.of(1, 2),
      'DT_FLOAT needs a Float32Array, got a Float64Array',
    ],
    [
      'a plain array for DT_FLOAT',
      DataType.DT_FLOAT,
      [1, 2],
      'DT_FLOAT needs a Float32Array, got a plain array',
    ],
    [
      'a plain array of 300 for DT_UINT8',
      DataType.DT_UINT8,
      [300, 2],
      'DT_UINT8 needs a Uint8Array, got a plain array',
    ],
    [
      'an Int32Array for DT_INT64',
      DataType.DT_INT64,
      Int32Array.of(1, 2),
      'DT_INT64 needs a BigInt64Array, got a Int32Array',
    ],
    [
      'strings for DT_STRING',
      DataType.DT_STRING,
      ['a', 'b'],
      'DT_STRING element 0 is string; expected a Uint8Array',
    ],
    ['a 2 for DT_BOOL', DataType.DT_BOOL, Uint8Array.of(1, 2), 'DT_BOOL element 1 is 2; expected 0 or 1'],
  ])('refuses %s instead of writing other bytes', (_label, dtype, values, message) => {
    const tensor = { dtype, shape: [2], values } as unknown as Tensor;
    for (const form of ['content', 'repeated'] as const) {
      expect(() => encodeTensor(tensor, { name: 'x', form })).toThrow(
        new TensorCodecError('BAD_VALUE', message, 'x'),
      );
    }
  });

  it('writes a scalar with an empty shape', () => {
    const proto = encodeTensor(
      { dtype: DataType.DT_INT32, shape: [], values: Int32Array.of(7) },
      { form: 'repeated' },
    );
    expect(Buffer.from(toBinary(TensorProtoSchema, proto)).toString('hex')).toBe('0803' + '1200' + '3a0107');
  });
});
