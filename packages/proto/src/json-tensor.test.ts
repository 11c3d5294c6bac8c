import { create } from '@bufbuild/protobuf';
import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { DataType } from './gen/tensorflow/core/framework/types_pb.js';
import { ClassificationResultSchema } from './gen/tensorflow_serving/apis/classification_pb.js';
import { RegressionResultSchema } from './gen/tensorflow_serving/apis/regression_pb.js';
import {
  readClassifyRegressJson,
  readPredictJson,
  writeClassificationJson,
  writePredictJson,
  writeRegressionJson,
} from './json-tensor.js';
import { formatDecimal, formatG, restErrorBody } from './rest-json-writer.js';
import type { Tensor } from './tensor.js';

const utf8 = new TextEncoder();
const X_FLOAT = new Map([['x', DataType.DT_FLOAT]]);

function read(body: string, inputs: ReadonlyMap<string, DataType> = X_FLOAT) {
  return readPredictJson(utf8.encode(body), () => inputs);
}

const float = (shape: number[], values: number[]): Tensor => ({
  dtype: DataType.DT_FLOAT,
  shape,
  values: Float32Array.from(values),
});

describe('reading :predict bodies', () => {
  it('reads a row body into one batch along dim 0', () => {
    expect(read('{"instances": [[1, 2], [3, 4]]}')).toEqual({
      format: 'row',
      signatureName: '',
      inputs: { x: float([2, 2], [1, 2, 3, 4]) },
    });
  });

  it('reads named row objects, one tensor per name', () => {
    const inputs = new Map([
      ['a', DataType.DT_FLOAT],
      ['b', DataType.DT_INT64],
    ]);
    const body = read(
      '{"signature_name": "s", "instances": [{"a": [1], "b": 9007199254740993}, {"a": [2], "b": 1}]}',
      inputs,
    );
    expect(body.signatureName).toBe('s');
    expect(body.inputs).toEqual({
      a: float([2, 1], [1, 2]),
      b: { dtype: DataType.DT_INT64, shape: [2], values: BigInt64Array.of(9007199254740993n, 1n) },
    });
  });

  it('reads a columnar body as is, scalars included', () => {
    expect(read('{"inputs": 5}')).toEqual({
      format: 'columnar',
      signatureName: '',
      inputs: { x: float([], [5]) },
    });
    expect(read('{"inputs": {"x": [[1, 2]]}}').inputs).toEqual({ x: float([1, 2], [1, 2]) });
  });

  it('reads NaN and infinities, and strings as bytes or base64', () => {
    expect(read('{"instances": [NaN, Infinity, -Inf]}').inputs.x?.values).toEqual(
      Float32Array.of(Number.NaN, Infinity, -Infinity),
    );
    const strings = read('{"instances": ["héllo", {"b64": "AAH/"}]}', new Map([['s', DataType.DT_STRING]]));
    expect(strings.inputs.s?.values).toEqual([utf8.encode('héllo'), Uint8Array.of(0, 1, 255)]);
  });

  it.each<[string, string, ReadonlyMap<string, DataType>?]>([
    ['[1, 2]', 'JSON Value: [1, 2] Is not object'],
    [
      '{"signature_name": 1, "inputs": [1]}',
      'JSON Value: {\n    "signature_name": 1,\n    "inputs": [1]\n} not formatted correctly. \'signature_name\' key must be a string value.',
    ],
    [
      '{"instances": [1], "inputs": [1]}',
      'JSON Value: {\n    "instances": [1],\n    "inputs": [1]\n} Not formatted correctly expecting only one of \'inputs\' or \'instances\' keys to exist ',
    ],
    ['{"instances": 1}', 'JSON Value: {\n    "instances": 1\n} Expecting \'instances\' to be an list/array'],
    ['{"instances": []}', 'JSON Value: {\n    "instances": []\n} No values in \'instances\' array'],
    ['{"x": [1]}', "Missing 'inputs' or 'instances' key"],
    [
      '{"instances": ["x", "y"]}',
      'Failed to process element: 0 of \'instances\' list. Error: INVALID_ARGUMENT: JSON Value: "x" Type: String is not of expected type: float',
    ],
    [
      '{"instances": [[1, 2], [1, 2, 3]]}',
      "Failed to process element: 1 of 'instances' list. Error: INVALID_ARGUMENT: Expecting tensor size: 2 but got: 3",
    ],
    [
      '{"instances": [[[1, 2]], [[1], [2]]]}',
      "Failed to process element: 1 of 'instances' list. Error: INVALID_ARGUMENT: Expecting shape [1,2] but got: [2,1]",
    ],
    ['{"inputs": [[1, 2], [3]]}', 'Encountered list at unexpected size: 1 at level: 1 expected size: 2'],
    [
      '{"inputs": [[1, 2], 3]}',
      'JSON Value: 3 found at incorrect level: 2 in the JSON DOM. Expected at level: 2',
    ],
    ['{"inputs": [[1, [2]]]}', 'Encountered list at unexpected level: 2 expected < 2'],
    [
      '{"inputs": [1.5]}',
      'JSON Value: 1.5 Type: Number is not of expected type: int32',
      new Map([['x', DataType.DT_INT32]]),
    ],
    ['{"inputs": [true]}', 'JSON Value: true Type: True is not of expected type: float'],
    ['{"inputs": [{"b64": "%%%"}]}', 'Unable to base64 decode', new Map([['x', DataType.DT_STRING]])],
    [
      '{"inputs": [{"b": "x"}]}',
      'JSON Value: {\n    "b": "x"\n} not formatted correctly for base64 data',
      new Map([['x', DataType.DT_STRING]]),
    ],
    [
      '{"instances": [1]}',
      'instances is a plain list, but expecting list of objects as multiple input tensors required as per tensorinfo_map',
      new Map([
        ['a', DataType.DT_FLOAT],
        ['b', DataType.DT_FLOAT],
      ]),
    ],
    [
      '{"instances": [{"a": 1, "b": 1}, [1]]}',
      'Expecting object but got list at item 1 of input list',
      new Map([
        ['a', DataType.DT_FLOAT],
        ['b', DataType.DT_FLOAT],
      ]),
    ],
    [
      '{"instances": [{"a": 1}]}',
      'Failed to process element: 0 of \'instances\' list. JSON object: {\n    "a": 1\n} keys must be equal to: a,b',
      new Map([
        ['a', DataType.DT_FLOAT],
        ['b', DataType.DT_FLOAT],
      ]),
    ],
    [
      '{"instances": [{"x": 1, "c": 1}]}',
      "Failed to process element: 0 key: c of 'instances' list. Error: INVALID_ARGUMENT: JSON object: does not have named input: c",
    ],
    ['{"instances": [1, {"x": 1}]}', 'Expecting value/list but got object at item 1 of input list'],
    [
      '{"inputs": [1]}',
      'inputs is a plain value/list, but expecting an object as multiple input tensors required as per tensorinfo_map',
      new Map([
        ['a', DataType.DT_FLOAT],
        ['b', DataType.DT_FLOAT],
      ]),
    ],
    [
      '{"inputs": {"a": [1]}}',
      "Missing named input: b in 'inputs' object.",
      new Map([
        ['a', DataType.DT_FLOAT],
        ['b', DataType.DT_FLOAT],
      ]),
    ],
    ['{"inputs": []}', 'Failed to get input map for signature: DEFAULT', new Map()],
  ])('refuses %s with INVALID_ARGUMENT', (body, message, inputs) => {
    expect(() => read(body, inputs)).toThrow(
      expect.objectContaining({ grpcCode: status.INVALID_ARGUMENT, message }),
    );
  });

  it('refuses dtypes TF Serving has no JSON conversion for with UNIMPLEMENTED', () => {
    expect(() => read('{"inputs": [1.0]}', new Map([['x', DataType.DT_HALF]]))).toThrow(
      expect.objectContaining({
        grpcCode: status.UNIMPLEMENTED,
        message: 'Conversion of JSON Value: 1.0 to type: half',
      }),
    );
  });
});

describe('writing :predict answers', () => {
  const y = float([3], [2.5, 3, 4.5]);

  it('writes a single row output without its name, in TF Serving layout', () => {
    expect(writePredictJson([['y', y]], 'row')).toBe('{\n    "predictions": [2.5, 3.0, 4.5\n    ]\n}');
  });

  it('writes rows of a matrix on one line each', () => {
    expect(writePredictJson([['p', float([2, 2], [0.25, 0.75, 1, 0])]], 'row')).toBe(
      '{\n    "predictions": [[0.25, 0.75], [1.0, 0.0]\n    ]\n}',
    );
  });

  it('writes several outputs as one object per row', () => {
    const scores = float([2], [1, 2]);
    const ids: Tensor = { dtype: DataType.DT_INT64, shape: [2], values: BigInt64Array.of(7n, 8n) };
    expect(
      writePredictJson(
        [
          ['ids', ids],
          ['scores', scores],
        ],
        'row',
      ),
    ).toBe(
      '{\n    "predictions": [\n        {\n            "ids": 7,\n            "scores": 1.0\n        },\n        {\n            "ids": 8,\n            "scores": 2.0\n        }\n    ]\n}',
    );
  });

  it('writes columnar outputs one element per line', () => {
    expect(writePredictJson([['y', y]], 'columnar')).toBe(
      '{\n    "outputs": [\n        2.5,\n        3.0,\n        4.5\n    ]\n}',
    );
    expect(
      writePredictJson(
        [
          ['a', float([], [1])],
          ['b', y],
        ],
        'columnar',
      ),
    ).toBe(
      '{\n    "outputs": {\n        "a": 1.0,\n        "b": [\n            2.5,\n            3.0,\n            4.5\n        ]\n    }\n}',
    );
  });

  it('writes NaN and infinities as bare tokens, and *_bytes strings as base64', () => {
    expect(writePredictJson([['y', float([3], [Number.NaN, Infinity, -Infinity])]], 'row')).toBe(
      '{\n    "predictions": [NaN, Infinity, -Infinity\n    ]\n}',
    );
    const bytes: Tensor = { dtype: DataType.DT_STRING, shape: [1], values: [Uint8Array.of(0, 255)] };
    expect(writePredictJson([['out_bytes', bytes]], 'columnar')).toBe(
      '{\n    "outputs": [\n        {\n            "b64": "AP8="\n        }\n    ]\n}',
    );
    expect(writePredictJson([['text', { ...bytes, values: [utf8.encode('a"b')] }]], 'columnar')).toBe(
      '{\n    "outputs": [\n        "a\\"b"\n    ]\n}',
    );
  });

  it('refuses row output for a scalar, and outputs of different batch sizes', () => {
    expect(() => writePredictJson([['s', float([], [1])]], 'row')).toThrow(
      'Tensor name: s has no shape information ',
    );
    expect(() =>
      writePredictJson(
        [
          ['a', float([1], [1])],
          ['b', y],
        ],
        'row',
      ),
    ).toThrow('Tensor name: b has inconsistent batch size: 3 expecting: 1');
  });

  it('writes floats with six digits when they read back, else nine, as WriteDecimal does', () => {
    const f = (value: number) => formatDecimal(Math.fround(value), 'float');
    expect([f(2.5), f(3), f(0.1), f(1e6), f(1e-5), f(0.123456789), f(-0), f(16777216)]).toEqual([
      '2.5',
      '3.0',
      '0.1',
      '1e+06',
      '1e-05',
      '0.123456791',
      '-0.0',
      '16777216.0',
    ]);
    expect(formatDecimal(0.1, 'double')).toBe('0.1');
    expect(formatDecimal(1 / 3, 'double')).toBe('0.33333333333333331');
    expect(formatG(123456789, 6)).toBe('1.23457e+08');
  });

  it('writes error bodies as TF Serving does', () => {
    expect(restErrorBody('Malformed request: GET /v1/x')).toBe(
      '{\n    "error": "Malformed request: GET /v1/x"\n}',
    );
    expect(JSON.parse(restErrorBody('a\n"b"\u0001'))).toEqual({ error: 'a\n"b"\u0001' });
  });
});

describe('reading :classify and :regress bodies', () => {
  it('makes tf.Examples: integers int64, other numbers float, strings and b64 bytes, booleans 0/1', () => {
    const request = readClassifyRegressJson(
      utf8.encode(
        '{"signature_name": "s", "context": {"c": "ctx"}, "examples": [{"i": [1, 2], "f": 1.5, "s": "a", "b": {"b64": "AAE="}, "t": true}]}',
      ),
    );
    expect(request.signatureName).toBe('s');
    expect(request.input).toEqual({
      kind: {
        case: 'exampleListWithContext',
        value: {
          context: {
            features: {
              feature: { c: { kind: { case: 'bytesList', value: { value: [utf8.encode('ctx')] } } } },
            },
          },
          examples: [
            {
              features: {
                feature: {
                  i: { kind: { case: 'int64List', value: { value: [1n, 2n] } } },
                  f: { kind: { case: 'floatList', value: { value: [1.5] } } },
                  s: { kind: { case: 'bytesList', value: { value: [utf8.encode('a')] } } },
                  b: { kind: { case: 'bytesList', value: { value: [Uint8Array.of(0, 1)] } } },
                  t: { kind: { case: 'int64List', value: { value: [1n] } } },
                },
              },
            },
          ],
        },
      },
    });
  });

  it.each([
    ['{"examples": [{"x": [1, 2.5]}]}', 'Unexpected element type in feature: x expecting type: int64'],
    [
      '{"examples": [{"x": 18446744073709551615}]}',
      'Feature: x has uint64_t element. Only int64_t is supported.',
    ],
    ['{"examples": [[1]]}', 'Example must be JSON object but got JSON Array'],
    [
      '{"examples": {}}',
      'JSON Value: {\n    "examples": {}\n} Expecting \'examples\' value to be an list/array',
    ],
  ])('refuses %s with INVALID_ARGUMENT: %s', (body, message) => {
    expect(() => readClassifyRegressJson(utf8.encode(body))).toThrow(
      expect.objectContaining({ grpcCode: status.INVALID_ARGUMENT, message }),
    );
  });

  it('writes results as TF Serving lays them out', () => {
    expect(
      writeRegressionJson(create(RegressionResultSchema, { regressions: [{ value: 1.5 }, { value: 2 }] })),
    ).toBe('{\n    "results": [1.5, 2.0]\n}');
    expect(
      writeClassificationJson(
        create(ClassificationResultSchema, {
          classifications: [
            { classes: [{ label: 'a', score: 0.25 }] },
            { classes: [{ label: 'b', score: 1 }] },
          ],
        }),
      ),
    ).toBe('{\n    "results": [[["a", 0.25]], [["b", 1.0]]\n    ]\n}');
  });
});
