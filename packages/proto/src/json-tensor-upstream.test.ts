import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { DataType } from './gen/tensorflow/core/framework/types_pb.js';
import { readPredictJson, writePredictJson } from './json-tensor.js';
import type { Tensor } from './tensor.js';

// Cases of TF Serving's own tests of its JSON codec (tensorflow_serving/util/json_tensor_test.cc): the same
// bodies and tensors, with the outcome those tests assert. The reader and writer must agree with them.

const utf8 = new TextEncoder();
const read = (body: string, inputs: [string, DataType][]) =>
  readPredictJson(utf8.encode(body), () => new Map(inputs));
const floatDefault: [string, DataType][] = [['default', DataType.DT_FLOAT]];
const int32Default: [string, DataType][] = [['default', DataType.DT_INT32]];

/** The JSON text with the layout's whitespace taken out: numbers compared as written (CompareJsonAllValuesAsStrings). */
const compact = (json: string) => json.replace(/\s+/g, '');

describe("json_tensor_test.cc's cases", () => {
  it('FloatTensorThatExceedsMaxReturnsInf: a double past float32 becomes inf, the minimum -inf', () => {
    expect(read('{ "instances": [1.79769e+308] }', floatDefault).inputs.default?.values).toEqual(
      Float32Array.of(Infinity),
    );
    expect(read('{ "instances": [-1.79769e+308] }', floatDefault).inputs.default?.values).toEqual(
      Float32Array.of(-Infinity),
    );
  });

  it('FloatTensorThatExceedsMinReturnsZero: the smallest double becomes 0, its negative -0', () => {
    const zero = read('{ "instances": [2.22507e-308] }', floatDefault).inputs.default?.values as Float32Array;
    const minusZero = read('{ "instances": [-2.22507e-308] }', floatDefault).inputs.default
      ?.values as Float32Array;
    expect(Object.is(zero[0], 0)).toBe(true);
    expect(Object.is(minusZero[0], -0)).toBe(true);
  });

  it.each([
    ['', 'document is empty'],
    ['{"signature_name": 5, "instances": [[1,2],[3,4],[5,6,7]]}', 'must be a string value'],
    ['{"instances": [[1,2],[3,4],[5,6,7]], "inputs": [[1,2],[3,4],[5,6,7]]}', 'Not formatted correctly'],
    ['{"instances": [[1,2],[3,4],[5,6,7]]}', 'Expecting tensor size'],
    ['{"instances": [[1,2],[3,4],[[5,6]]]}', 'Expecting shape'],
    ['{"instances": [1, [1]]}', 'Expecting shape'],
    ['{"instances": [[1,2],["a", "b"]]}', 'not of expected type'],
  ])('SingleUnnamedTensorErrors: %s is INVALID_ARGUMENT with "%s"', (body, part) => {
    expect(() => read(body, int32Default)).toThrow(
      expect.objectContaining({ grpcCode: status.INVALID_ARGUMENT, message: expect.stringContaining(part) }),
    );
  });

  const named: [string, DataType][] = [
    ['int_tensor', DataType.DT_INT32],
    ['str_tensor', DataType.DT_STRING],
  ];
  it.each([
    [
      '{"instances": [{"int_tensor": [[1,2],[3,4],[5,6]], "str_tensor": ["foo", "bar"]}, {"int_tensor": [[[7,8],[9,0],[1,2]]], "str_tensor": ["baz", "bat"]}]}',
      named,
      'Expecting shape',
    ],
    [
      '{"instances": [{"int_tensor": [[1,2],[3,4],[5,6],[7,8]], "str_tensor": ["foo", "bar"]}, {"int_tensor": [[7,8],[9,0],[1,2]], "str_tensor": ["baz", "bat"]}]}',
      named,
      'Expecting tensor size',
    ],
    [
      '{"instances": [{"int_tensor": [[1,2],[3,4],[5,6]], "str_tensor": ["foo", "bar"]}, [1, 20, 30], {"int_tensor": [[[7,8],[9,0],[1,2]]], "str_tensor": ["baz", "bat"]}]}',
      named,
      'Expecting object but got list',
    ],
    [
      '{"instances": [["baz", "bar"], {"str_tensor": ["baz", "bat"]}]}',
      [['str_tensor', DataType.DT_STRING]] as [string, DataType][],
      'Expecting value/list but got object',
    ],
  ])('MultipleNamedTensorErrors: %s is INVALID_ARGUMENT', (body, inputs, part) => {
    expect(() => read(body, inputs)).toThrow(
      expect.objectContaining({ grpcCode: status.INVALID_ARGUMENT, message: expect.stringContaining(part) }),
    );
  });

  const floats = (shape: number[], values: number[]): Tensor => ({
    dtype: DataType.DT_FLOAT,
    shape,
    values: Float32Array.from(values),
  });

  it('FromJsonSingleFloatTensorSixDigitPrecision', () => {
    const json = writePredictJson(
      [['float_tensor', floats([2, 3], [9000000, 999999, 0.5, 0.0003, 0.00003, 555557.5])]],
      'row',
    );
    expect(compact(json)).toBe(
      compact('{"predictions": [[9e+06, 999999.0, 0.5], [0.0003, 3e-05, 555557.5]]}'),
    );
  });

  it('FromJsonSingleFloatTensorNonFinite', () => {
    const json = writePredictJson(
      [['float_tensor', floats([2, 2], [Number.NaN, Infinity, 3, -Infinity])]],
      'row',
    );
    expect(compact(json)).toBe(compact('{"predictions": [[NaN, Infinity], [3.0, -Infinity]]}'));
  });
});
