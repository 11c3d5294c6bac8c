import {
  buildModel,
  goldenFile,
  goldenInputs,
  restPredictBody,
  withinTolerance,
  wrongRequests,
} from '@modelgate/fixtures';
import { DEFAULT_POLICY } from '@modelgate/policy';
import {
  DataType,
  decodeRestError,
  decodeRestPredictResponse,
  parseRestJson,
  type Tensor,
} from '@modelgate/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createModelRunner } from './model-runner-factory.js';
import { type ServedFixtures, serveFixtures } from './testing/served-fixtures.js';

let served: ServedFixtures;
let base: string;

beforeAll(async () => {
  served = await serveFixtures(await createModelRunner({ prefer: 'wasm' }), {
    restApiEnableCorsSupport: true,
  });
  base = `http://127.0.0.1:${served.restPort}`;
});
afterAll(() => served?.stop());

async function call(method: string, path: string, body?: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body }),
  });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

const post = (path: string, body: string) => call('POST', path, body);

function expectError(result: { status: number; text: string }, status: number, message: string) {
  expect({ status: result.status, error: decodeRestError(result.text) }).toEqual({ status, error: message });
  expect(result.text).toBe(`{\n    "error": ${JSON.stringify(message)}\n}`);
}

const PROBABILITIES = { probabilities: DataType.DT_FLOAT } as const;

describe('REST :predict', () => {
  it.each([
    ['half_plus_two', 'half_plus_two', 1, 'row'],
    ['classifier', 'classifier', 1, 'row'],
    ['classifier', 'classifier', 2, 'columnar'],
    ['convnet', 'convnet', 1, 'columnar'],
  ] as const)(
    'answers %s (graph %s) v%i, %s format, within the golden tolerance',
    async (name, graph, version, format) => {
      const golden = goldenFile(name, buildModel(graph, version));
      const goldenCase = golden.cases[1];
      if (!goldenCase) throw new Error('golden file has no batch 3');
      const { body } = restPredictBody(DEFAULT_POLICY, { model: name, version }, { batchSize: 3, format });
      const result = await post(`/v1/models/${name}/versions/${version}:predict`, body);
      expect(result.status).toBe(200);
      expect(result.headers.get('content-type')).toBe('application/json');
      const [alias, expected] = Object.entries(goldenCase.outputs)[0] as [string, { values: number[] }];
      const decoded = decodeRestPredictResponse(result.text, { [alias]: DataType.DT_FLOAT });
      expect(decoded.format).toBe(format);
      expect(withinTolerance(decoded.outputs[alias]?.values as Float32Array, expected.values).ok).toBe(true);
    },
  );

  it('writes the answer in TF Serving layout, floats with .0 and six digits', async () => {
    const result = await post('/v1/models/half_plus_two:predict', '{"instances": [1.0, 2.0, 5.0]}');
    expect(result.text).toBe('{\n    "predictions": [2.5, 3.0, 4.5\n    ]\n}');
    const columnar = await post('/v1/models/half_plus_two:predict', '{"inputs": [1.0, 2.0]}');
    expect(columnar.text).toBe('{\n    "outputs": [\n        2.5,\n        3.0\n    ]\n}');
  });

  it('reads and writes the non-strict tokens NaN and Infinity', async () => {
    const result = await post(
      '/v1/models/half_plus_two:predict',
      '{"instances": [NaN, Infinity, -Infinity]}',
    );
    expect(result.text).toBe('{\n    "predictions": [NaN, Infinity, -Infinity\n    ]\n}');
    expect(parseRestJson(result.text)).toEqual({ predictions: [Number.NaN, Infinity, -Infinity] });
  });

  it.each([
    ['/v1/models/classifier:predict', 2],
    ['/v1/models/classifier/versions/1:predict', 1],
    ['/V1/MODELS/classifier/VERSIONS/1:predict', 1],
  ])('routes %s to version %i', async (path, version) => {
    const inputs = goldenInputs('classifier', 1);
    const result = await post(path, restPredictBody(DEFAULT_POLICY, { model: 'classifier' }).body);
    const expected = buildModel('classifier', version).evaluate(inputs).probabilities as Tensor;
    const actual = decodeRestPredictResponse(result.text, PROBABILITIES).outputs.probabilities;
    expect(withinTolerance(actual?.values as Float32Array, expected.values as Float32Array).ok).toBe(true);
  });

  it('takes the signature from the body', async () => {
    const result = await post(
      '/v1/models/half_plus_two:predict',
      '{"signature_name": "serving_default", "instances": [0]}',
    );
    expect(result.text).toBe('{\n    "predictions": [2.0\n    ]\n}');
  });

  it.each(wrongRequests(DEFAULT_POLICY, 'classifier').map((wrong) => [wrong.kind, wrong] as const))(
    "answers the fixtures' %s request with its expected HTTP status",
    async (_kind, wrong) => {
      expect((await post(wrong.rest.path, wrong.rest.body)).status).toBe(wrong.expectedHttpStatus);
    },
  );

  // The real server checks no input shape before running: TensorFlow feeds the Placeholder whatever comes.
  it('runs an element-wise model on an input of another shape, as TensorFlow does', async () => {
    const result = await post('/v1/models/half_plus_two:predict', '{"inputs": [[1.0, 2.0], [3.0, 4.0]]}');
    expect({ status: result.status, body: parseRestJson(result.text) }).toEqual({
      status: 200,
      body: {
        outputs: [
          [2.5, 3],
          [3.5, 4],
        ],
      },
    });
  });

  it('accepts integer JSON numbers for a float input, as json_tensor.cc does', async () => {
    const response = await post('/v1/models/classifier:predict', '{"instances": [[1, 2, 3, 4]]}');
    expect(response.status).toBe(200);
  });
});

describe('REST status and metadata', () => {
  const available = (version: number) =>
    `  {\n   "version": "${version}",\n   "state": "AVAILABLE",\n   "status": {\n    "error_code": "OK",\n    "error_message": ""\n   }\n  }`;

  it("answers every version's status, highest first, as protobuf prints it", async () => {
    const result = await call('GET', '/v1/models/classifier');
    expect(result.status).toBe(200);
    expect(result.text).toBe(`{\n "model_version_status": [\n${available(2)},\n${available(1)}\n ]\n}\n`);
  });

  it.each([
    ['/v1/models/classifier/versions/1', [1]],
    ['/v1/models/classifier/labels/any', [2, 1]],
    ['/v1/models/classifier/METADATA', [2, 1]],
  ])('GET %s answers the status of versions %j', async (path, versions) => {
    const result = await call('GET', path);
    expect(result.status).toBe(200);
    expect(
      (JSON.parse(result.text) as { model_version_status: { version: string }[] }).model_version_status.map(
        (s) => Number(s.version),
      ),
    ).toEqual(versions);
  });

  it('answers the metadata with every signature, in TF Serving layout', async () => {
    const result = await call('GET', '/v1/models/half_plus_two/metadata');
    expect(result.status).toBe(200);
    const info = (name: string) =>
      [
        '{',
        '     "dtype": "DT_FLOAT",',
        '     "tensor_shape": {',
        '      "dim": [',
        '       {',
        '        "size": "-1",',
        '        "name": ""',
        '       }',
        '      ],',
        '      "unknown_rank": false',
        '     },',
        `     "name": "${name}"`,
        '    }',
      ].join('\n');
    expect(result.text).toBe(
      [
        '{',
        '"model_spec":{',
        ' "name": "half_plus_two",',
        ' "signature_name": "",',
        ' "version": "1"',
        '}',
        ',',
        '"metadata": {"signature_def": {',
        ' "signature_def": {',
        '  "serving_default": {',
        '   "inputs": {',
        `    "x": ${info('x:0')}`,
        '   },',
        '   "outputs": {',
        `    "y": ${info('y:0')}`,
        '   },',
        '   "method_name": "tensorflow/serving/predict",',
        '   "defaults": {}',
        '  }',
        ' }',
        '}',
        '}',
        '}',
        '',
      ].join('\n'),
    );
    expect(JSON.parse(result.text)).toMatchObject({ model_spec: { name: 'half_plus_two', version: '1' } });
  });

  it('answers the metadata of a named version', async () => {
    const result = await call('GET', '/v1/models/classifier/versions/1/metadata');
    expect(JSON.parse(result.text).model_spec).toEqual({
      name: 'classifier',
      signature_name: '',
      version: '1',
    });
  });
});

describe('REST refusals', () => {
  it.each([
    ['GET', '/v1/foo'],
    ['POST', '/v1/foo'],
    ['POST', '/v1/models'],
    ['GET', '/v1/models/debug/model_name'],
    ['GET', '/v1/models/foo:predict'],
    ['POST', '/v1/models/foo/version/50:predict'],
    ['POST', '/v1/models/foo/versions/HELLO:predict'],
    ['POST', '/v1/models/foo/metadata'],
    ['POST', '/v1/models/foo/versions/50/labels/x:predict'],
    ['POST', '/v1/models/foo:PREDICT'],
    ['PUT', '/v1/models/foo'],
    ['DELETE', '/v1/models/foo:predict'],
  ])('%s %s: 400 Malformed request', async (method, path) => {
    expectError(
      await call(method, path, method === 'GET' ? undefined : '{}'),
      400,
      `Malformed request: ${method} ${path}`,
    );
  });

  it('GET /v1/models: 400 Missing model name in request.', async () => {
    expectError(await call('GET', '/v1/models'), 400, 'Missing model name in request.');
  });

  it('a version past int64: 400 Failed to convert version', async () => {
    const huge = '18446744073709551615';
    expectError(
      await post(`/v1/models/foo/versions/${huge}:predict`, '{}'),
      400,
      `Failed to convert version: ${huge} to numeric.`,
    );
  });

  it.each([
    ['/v1/models/no_such_model:predict', 404, 'Servable not found for request: Latest(no_such_model)'],
    [
      '/v1/models/classifier/versions/999999:predict',
      404,
      'Servable not found for request: Specific(classifier, 999999)',
    ],
    ['/v1/models/classifier/labels/stable:predict', 400, 'Unrecognized servable version label: stable'],
  ])('POST %s: %i %s', async (path, status, message) => {
    expectError(await post(path, '{"instances": [[1, 2, 3, 4]]}'), status, message);
  });

  it.each([
    ['/v1/models/no_such_model', 404, 'Could not find any versions of model no_such_model'],
    ['/v1/models/classifier/versions/999999', 404, 'Could not find version 999999 of model classifier'],
    ['/v1/models/no_such_model/metadata', 404, 'Servable not found for request: Latest(no_such_model)'],
  ])('GET %s: %i %s', async (path, status, message) => {
    expectError(await call('GET', path), status, message);
  });

  it.each([
    ['', 'JSON Parse error: The document is empty'],
    ['instances = [1, 2]', 'JSON Parse error: Invalid value. at offset: 0'],
    [
      '{"signature_name": "nope", "instances": [1]}',
      'Serving signature name: "nope" not found in signature def',
    ],
    [
      '{"signature_name": "constructor", "instances": [1]}',
      'Serving signature name: "constructor" not found in signature def',
    ],
    [
      '{"instances": [1], "inputs": [1]}',
      'JSON Value: {\n    "instances": [1],\n    "inputs": [1]\n} Not formatted correctly expecting only one of \'inputs\' or \'instances\' keys to exist ',
    ],
    [
      '{"instances": ["x"]}',
      'Failed to process element: 0 of \'instances\' list. Error: INVALID_ARGUMENT: JSON Value: "x" Type: String is not of expected type: float',
    ],
    ['{}', "Missing 'inputs' or 'instances' key"],
  ])('POST :predict with %j: 400', async (body, message) => {
    expectError(await post('/v1/models/half_plus_two:predict', body), 400, message);
  });

  it.each(['classify', 'regress'])(
    ':%s reads the examples first, with json_tensor.cc message',
    async (verb) => {
      expectError(
        await post(`/v1/models/classifier:${verb}`, '{}'),
        400,
        "JSON Value: {} When method is classify, key 'examples' is expected and was not found",
      );
    },
  );

  it(':classify on a predict signature: 400 with the real message', async () => {
    const result = await post(
      '/v1/models/classifier:classify',
      '{"examples": [{"x": [1.0, 2.0, 3.0, 4.0]}]}',
    );
    expect(result.status).toBe(400);
    expect(decodeRestError(result.text)).toMatch(
      /^No classification inputs found in SignatureDef: inputs \{\n {2}key: "x"/,
    );
  });

  it("answers paths outside /v1/ with net_http's 404 page", async () => {
    const result = await call('GET', '/v2/models/classifier');
    expect(result.status).toBe(404);
    expect(result.text).toBe(
      '<HTML><HEAD>\n<TITLE>404 Not Found</TITLE>\n</HEAD><BODY>\n<H1>Not Found</H1>\n</BODY></HTML>\n',
    );
  });
});

describe('REST CORS (--rest_api_enable_cors_support)', () => {
  it('adds the CORS headers to answers', async () => {
    const result = await call('GET', '/v1/models/classifier');
    expect(result.headers.get('access-control-allow-origin')).toBe('*');
    expect(result.headers.get('access-control-allow-methods')).toBe('POST, GET');
    expect(result.headers.get('access-control-allow-headers')).toBe('Content-Type');
  });

  it('answers a preflight with an origin, and refuses one without', async () => {
    const ok = await call('OPTIONS', '/v1/models/classifier:predict', undefined, {
      Origin: 'https://app.example',
    });
    expect({ status: ok.status, text: ok.text }).toEqual({ status: 200, text: '' });
    const refused = await call('OPTIONS', '/v1/models/classifier:predict');
    expect({ status: refused.status, text: refused.text }).toEqual({ status: 400, text: '' });
  });
});

describe('Prometheus metrics (monitoring on)', () => {
  it("serves TF Serving's request metrics under their names", async () => {
    await post('/v1/models/half_plus_two:predict', '{"instances": [1]}');
    await post('/v1/models/no_such_model:predict', '{"instances": [1]}');
    const result = await call('GET', '/monitoring/prometheus/metrics');
    expect(result.status).toBe(200);
    expect(result.headers.get('content-type')).toBe('text/plain');
    expect(result.text).toContain('# TYPE :tensorflow:serving:request_count counter');
    expect(result.text).toMatch(
      /^:tensorflow:serving:request_count\{model_name="half_plus_two",status="OK"\} [1-9]/m,
    );
    expect(result.text).toMatch(
      /^:tensorflow:serving:request_count\{model_name="no_such_model",status="NOT_FOUND"\} [1-9]\d*$/m,
    );
    expect(result.text).toContain('# TYPE :tensorflow:serving:request_latency histogram');
    expect(result.text).toMatch(
      /^:tensorflow:serving:request_latency_bucket\{model_name="half_plus_two",API="predict",entrypoint="REST",le="10"\} \d+$/m,
    );
    expect(result.text).toMatch(
      /^:tensorflow:serving:runtime_latency_count\{model_name="half_plus_two",API="Predict",runtime="TF1"\} [1-9]/m,
    );
    expect(result.text).toContain('le="18"');
    expect(result.text).toContain('le="32.4"');
    expect(result.text).not.toContain('# HELP');
  });
});
