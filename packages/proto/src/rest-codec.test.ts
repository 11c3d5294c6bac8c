import { status } from '@grpc/grpc-js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DataType } from './gen/tensorflow/core/framework/types_pb.js';
import {
  decodeRestError,
  decodeRestPredictRequest,
  decodeRestPredictResponse,
  encodeRestError,
  encodeRestPredictRequest,
  encodeRestPredictResponse,
} from './rest-codec.js';
import { parseRestJson, stringifyRestJson } from './rest-json.js';
import type { SupportedDataType, Tensor } from './tensor.js';

const bytes = (text: string) => new TextEncoder().encode(text);
const floats = (shape: number[], ...values: number[]): Tensor => ({
  dtype: DataType.DT_FLOAT,
  shape,
  values: Float32Array.from(values),
});

describe('parseRestJson', () => {
  it('reads the bare NaN, Infinity, -Infinity, Inf and -Inf tokens TF Serving accepts', () => {
    expect(parseRestJson('[NaN, Infinity, -Infinity, Inf, -Inf, 1]')).toEqual([
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      1,
    ]);
  });

  it('leaves the same words inside strings alone, escaped quotes included', () => {
    expect(parseRestJson('{"a \\"NaN": "NaN", "b": [NaN], "c": "-Infinity"}')).toEqual({
      'a "NaN': 'NaN',
      b: [Number.NaN],
      c: '-Infinity',
    });
  });

  it('refuses what TF Serving refuses: comments, single quotes, trailing commas, NaN glued to a word', () => {
    for (const text of ['// c\n[1]', "['a']", '[1,]', '[NaNa]', '[nan]']) {
      expect(() => parseRestJson(text), text).toThrow(/^JSON Parse error: /);
    }
  });
});

describe('stringifyRestJson', () => {
  it('writes non-finite numbers and bigints as bare tokens', () => {
    expect(
      stringifyRestJson({
        x: [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 2n ** 63n - 1n, 'NaN'],
      }),
    ).toBe('{"x":[NaN,Infinity,-Infinity,9223372036854775807,"NaN"]}');
  });
});

describe('REST predict requests', () => {
  it('writes one input in row form without its name, as TF Serving examples do', () => {
    expect(encodeRestPredictRequest({ x: floats([3], 1, 2, 5) }, { format: 'row' })).toBe(
      '{"instances":[1,2,5]}',
    );
  });

  it('writes several inputs in row form as one object per instance', () => {
    const body = encodeRestPredictRequest(
      {
        a: floats([2, 2], 1, 2, 3, 4),
        b: { dtype: DataType.DT_INT64, shape: [2], values: BigInt64Array.of(7n, -(2n ** 62n)) },
      },
      { format: 'row', signatureName: 'serving_default' },
    );
    expect(body).toBe(
      '{"signature_name":"serving_default","instances":[{"a":[1,2],"b":7},{"a":[3,4],"b":-4611686018427387904}]}',
    );
  });

  it('writes columnar form with names, or without for a lone input when asked', () => {
    expect(
      encodeRestPredictRequest(
        { x: floats([2], Number.NaN, Number.NEGATIVE_INFINITY) },
        { format: 'columnar' },
      ),
    ).toBe('{"inputs":[NaN,-Infinity]}');
    expect(
      encodeRestPredictRequest({ x: floats([], 0.5) }, { format: 'columnar', dropSingleInputName: false }),
    ).toBe('{"inputs":{"x":0.5}}');
  });

  it('sends bytes as {"b64": ...} for _bytes aliases and for bytes that are not UTF-8', () => {
    const body = encodeRestPredictRequest(
      {
        text: { dtype: DataType.DT_STRING, shape: [1], values: [bytes('héllo')] },
        image_bytes: { dtype: DataType.DT_STRING, shape: [1], values: [bytes('abc')] },
        raw: { dtype: DataType.DT_STRING, shape: [1], values: [Uint8Array.of(0xff, 0x00)] },
      },
      { format: 'columnar' },
    );
    expect(body).toBe('{"inputs":{"text":["héllo"],"image_bytes":[{"b64":"YWJj"}],"raw":[{"b64":"/wA="}]}}');
  });

  it('refuses row form for inputs with different batch sizes, naming the input', () => {
    expect(() =>
      encodeRestPredictRequest({ a: floats([2], 1, 2), b: floats([1], 3) }, { format: 'row' }),
    ).toThrow('b: has batch size 1; expected 2 as the other tensors have');
  });

  it('reads the row form against the signature, stacking instances along dim 0', () => {
    const request = decodeRestPredictRequest('{"instances": [[1, 2], [3, NaN]]}', { x: DataType.DT_FLOAT });
    expect(request.format).toBe('row');
    expect(request.signatureName).toBeUndefined();
    expect(request.inputs.x?.shape).toEqual([2, 2]);
    expect(Array.from(request.inputs.x?.values as Float32Array)).toEqual([1, 2, 3, Number.NaN]);
  });

  it('reads named instances and b64 strings', () => {
    const request = decodeRestPredictRequest(
      '{"signature_name": "s", "instances": [{"k": 1, "s": {"b64": "YWJj"}}, {"k": 2, "s": "dé"}]}',
      { k: DataType.DT_INT32, s: DataType.DT_STRING },
    );
    expect(request.signatureName).toBe('s');
    expect(Array.from(request.inputs.k?.values as Int32Array)).toEqual([1, 2]);
    expect(
      ((request.inputs.s?.values ?? []) as Uint8Array[]).map((b) => new TextDecoder().decode(b)),
    ).toEqual(['abc', 'dé']);
  });

  it('reads the columnar form, named or not', () => {
    const named = decodeRestPredictRequest('{"inputs": {"a": [true, false], "b": 3}}', {
      a: DataType.DT_BOOL,
      b: DataType.DT_UINT8,
    });
    expect(named.inputs.a?.values).toEqual(Uint8Array.of(1, 0));
    expect(named.inputs.b?.shape).toEqual([]);
    const unnamed = decodeRestPredictRequest('{"inputs": [[1.5]]}', { x: DataType.DT_DOUBLE });
    expect(unnamed.inputs.x?.values).toEqual(Float64Array.of(1.5));
  });

  it('refuses half and bfloat16 inputs with UNIMPLEMENTED, as json_tensor.cc has no conversion for them', () => {
    expect(() => decodeRestPredictRequest('{"inputs": [1.5]}', { x: DataType.DT_HALF })).toThrow(
      expect.objectContaining({
        grpcCode: status.UNIMPLEMENTED,
        message: 'Conversion of JSON Value: 1.5 to type: half',
      }),
    );
  });

  it('refuses ragged lists, saying where', () => {
    expect(() => decodeRestPredictRequest('{"instances": [[1, 2], [3]]}', { x: DataType.DT_FLOAT })).toThrow(
      "Failed to process element: 1 of 'instances' list. Error: INVALID_ARGUMENT: Expecting tensor size: 2 but got: 1",
    );
  });

  it("refuses values of the wrong type with TF Serving's message", () => {
    expect(() => decodeRestPredictRequest('{"inputs": ["1"]}', { x: DataType.DT_FLOAT })).toThrow(
      'JSON Value: "1" Type: String is not of expected type: float',
    );
    expect(() => decodeRestPredictRequest('{"inputs": [1.5]}', { x: DataType.DT_INT32 })).toThrow(
      'JSON Value: 1.5 Type: Number is not of expected type: int32',
    );
  });

  // json_tensor.cc AddValueToTensor: IsInt64 / IsUint64 decide, on the number as written; nothing wraps.
  it('keeps int64 and uint64 values exactly, to the last bit', () => {
    const int64 = decodeRestPredictRequest('{"inputs": [9223372036854775807, -9223372036854775808]}', {
      x: DataType.DT_INT64,
    });
    expect(int64.inputs.x?.values).toEqual(BigInt64Array.of(2n ** 63n - 1n, -(2n ** 63n)));
    const uint64 = decodeRestPredictRequest('{"inputs": [18446744073709551615]}', { x: DataType.DT_UINT64 });
    expect(uint64.inputs.x?.values).toEqual(BigUint64Array.of(2n ** 64n - 1n));
  });

  it.each<[string, SupportedDataType, string]>([
    [
      '1e20',
      DataType.DT_INT64,
      'JSON Value: 100000000000000000000.0 Type: Number is not of expected type: int64',
    ],
    [
      '9223372036854775808',
      DataType.DT_INT64,
      'JSON Value: 9223372036854775808 Type: Number is not of expected type: int64',
    ],
    ['-1', DataType.DT_UINT64, 'JSON Value: -1 Type: Number is not of expected type: uint64'],
    ['2147483648', DataType.DT_INT32, 'JSON Value: 2147483648 Type: Number is not of expected type: int32'],
    ['-1', DataType.DT_UINT32, 'JSON Value: -1 Type: Number is not of expected type: uint32'],
  ])('refuses %s as %s with INVALID_ARGUMENT instead of wrapping it', (value, dtype, message) => {
    expect(() => decodeRestPredictRequest(`{"inputs": [${value}]}`, { x: dtype })).toThrow(
      expect.objectContaining({ grpcCode: status.INVALID_ARGUMENT, message }),
    );
  });

  // RapidJSON's GetFloat is a plain cast of the double: TF Serving itself turns 1e39 into inf for DT_FLOAT.
  it('narrows a DT_FLOAT beyond float32 to infinity, as TF Serving does, and keeps it for DT_DOUBLE', () => {
    expect(decodeRestPredictRequest('{"inputs": [1e39]}', { x: DataType.DT_FLOAT }).inputs.x?.values).toEqual(
      Float32Array.of(Infinity),
    );
    expect(
      decodeRestPredictRequest('{"inputs": [1e39]}', { x: DataType.DT_DOUBLE }).inputs.x?.values,
    ).toEqual(Float64Array.of(1e39));
  });

  it('refuses invalid base64 instead of decoding it to other bytes', () => {
    for (const b64 of ['YW*j', 'Y', 'YWJj=x']) {
      expect(() =>
        decodeRestPredictRequest(`{"inputs": [{"b64": "${b64}"}]}`, { x: DataType.DT_STRING }),
      ).toThrow(
        expect.objectContaining({ grpcCode: status.INVALID_ARGUMENT, message: 'Unable to base64 decode' }),
      );
    }
  });

  it('refuses an inputs object that leaves out a named input', () => {
    expect(() => decodeRestPredictRequest('{"inputs": {}}', { x: DataType.DT_FLOAT })).toThrow(
      "Missing named input: x in 'inputs' object.",
    );
    expect(() =>
      decodeRestPredictRequest('{"inputs": {"a": [1]}}', { a: DataType.DT_FLOAT, b: DataType.DT_FLOAT }),
    ).toThrow("Missing named input: b in 'inputs' object.");
    expect(() =>
      decodeRestPredictRequest('{"instances": [{"a": 1}]}', { a: DataType.DT_FLOAT, b: DataType.DT_FLOAT }),
    ).toThrow(
      'Failed to process element: 0 of \'instances\' list. JSON object: {\n    "a": 1\n} keys must be equal to: a,b',
    );
  });

  it('refuses a body with both instances and inputs, or neither', () => {
    expect(() =>
      decodeRestPredictRequest('{"instances": [], "inputs": []}', { x: DataType.DT_FLOAT }),
    ).toThrow("expecting only one of 'inputs' or 'instances' keys to exist");
    expect(() => decodeRestPredictRequest('{}', { x: DataType.DT_FLOAT })).toThrow(
      "Missing 'inputs' or 'instances' key",
    );
  });

  it('refuses an unnamed tensor when the signature has several inputs', () => {
    expect(() =>
      decodeRestPredictRequest('{"inputs": [1]}', { a: DataType.DT_FLOAT, b: DataType.DT_FLOAT }),
    ).toThrow(
      'inputs is a plain value/list, but expecting an object as multiple input tensors required as per tensorinfo_map',
    );
  });
});

describe('REST predict responses', () => {
  it('drops the name of a single output in both forms', () => {
    const y = floats([3], 2.5, 3, 4.5);
    expect(encodeRestPredictResponse({ y }, 'row')).toBe('{\n    "predictions": [2.5, 3.0, 4.5\n    ]\n}');
    expect(encodeRestPredictResponse({ y }, 'columnar')).toBe(
      '{\n    "outputs": [\n        2.5,\n        3.0,\n        4.5\n    ]\n}',
    );
  });

  it('names several outputs: one object per row, or one key per output', () => {
    const outputs = {
      scores: floats([2, 2], 0.25, 0.75, 1, 0),
      label: { dtype: DataType.DT_INT32, shape: [2], values: Int32Array.of(1, 0) } as Tensor,
    };
    expect(parseRestJson(encodeRestPredictResponse(outputs, 'row'))).toEqual({
      predictions: [
        { scores: [0.25, 0.75], label: 1 },
        { scores: [1, 0], label: 0 },
      ],
    });
    expect(parseRestJson(encodeRestPredictResponse(outputs, 'columnar'))).toEqual({
      outputs: {
        scores: [
          [0.25, 0.75],
          [1, 0],
        ],
        label: [1, 0],
      },
    });
  });

  it('base64-encodes string outputs whose alias ends in _bytes, and only those', () => {
    const outputs: Record<string, Tensor> = {
      image_bytes: { dtype: DataType.DT_STRING, shape: [1], values: [bytes('hi')] },
      name: { dtype: DataType.DT_STRING, shape: [1], values: [bytes('hi')] },
    };
    expect(parseRestJson(encodeRestPredictResponse(outputs, 'columnar'))).toEqual({
      outputs: { image_bytes: [{ b64: 'aGk=' }], name: ['hi'] },
    });
  });

  it('refuses half and bfloat16 outputs, which json_tensor.cc has no writer for', () => {
    const h: Tensor = { dtype: DataType.DT_HALF, shape: [1], values: Uint16Array.of(0x3c00) };
    expect(() => encodeRestPredictResponse({ h }, 'columnar')).toThrow(
      'Failed to write JSON value for tensor type: half',
    );
  });

  it('reads int64 outputs back exactly', () => {
    const response = decodeRestPredictResponse('{"predictions": [9223372036854775807, 3]}', {
      classes: DataType.DT_INT64,
    });
    expect(response.outputs.classes?.values).toEqual(BigInt64Array.of(2n ** 63n - 1n, 3n));
  });

  it('reads a response back against the outputs asked for', () => {
    const response = decodeRestPredictResponse('{"predictions": [[0.5, NaN]]}', { y: DataType.DT_DOUBLE });
    expect(response.format).toBe('row');
    expect(response.outputs.y?.shape).toEqual([1, 2]);
    expect(Array.from(response.outputs.y?.values as Float64Array)).toEqual([0.5, Number.NaN]);
  });

  it('turns an error body into an error that carries the message', () => {
    expect(() =>
      decodeRestPredictResponse('{ "error": "Servable not found" }', { y: DataType.DT_FLOAT }),
    ).toThrow('server answered an error: Servable not found');
  });
});

describe('REST error bodies', () => {
  it('writes the body as TF Serving pretty-prints it, the message JSON-escaped', () => {
    expect(encodeRestError('Malformed request: GET /v1/x "y"')).toBe(
      '{\n    "error": "Malformed request: GET /v1/x \\"y\\""\n}',
    );
  });

  it('reads the message back, and nothing from other bodies', () => {
    expect(decodeRestError('{ "error": "Could not find any versions of model m" }')).toBe(
      'Could not find any versions of model m',
    );
    expect(decodeRestError('{"predictions": []}')).toBeUndefined();
    expect(decodeRestError('<html>')).toBeUndefined();
  });
});

describe('REST round trip', () => {
  const tensors = fc
    .tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 3 }))
    .chain(([batch, width]) =>
      fc.record({
        a: fc
          .array(fc.float(), { minLength: batch * width, maxLength: batch * width })
          .map((v) => floats([batch, width], ...v)),
        b: fc
          .array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { minLength: batch, maxLength: batch })
          .map((v) => ({ dtype: DataType.DT_INT32, shape: [batch], values: Int32Array.from(v) }) as Tensor),
      }),
    );
  const signature = { a: DataType.DT_FLOAT, b: DataType.DT_INT32 } as const;

  for (const format of ['row', 'columnar'] as const) {
    it(`keeps float32 (NaN and infinities included) and int32 tensors exactly in ${format} form`, () => {
      fc.assert(
        fc.property(tensors, (inputs) => {
          const decoded = decodeRestPredictRequest(encodeRestPredictRequest(inputs, { format }), signature);
          expect(decoded.inputs.a?.shape).toEqual(inputs.a.shape);
          expect(
            Buffer.from(((decoded.inputs.a?.values ?? new Float32Array()) as Float32Array).buffer),
          ).toEqual(Buffer.from((inputs.a.values as Float32Array).buffer));
          expect(decoded.inputs.b?.values).toEqual(inputs.b.values);
        }),
        { numRuns: 100 },
      );
    });
  }
});
