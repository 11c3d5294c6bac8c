import { create, fromBinary } from '@bufbuild/protobuf';
import { anyUnpack } from '@bufbuild/protobuf/wkt';
import { status } from '@grpc/grpc-js';
import {
  buildModel,
  goldenInputs,
  predictRequest,
  withinTolerance,
  wrongRequests,
} from '@modelgate/fixtures';
import { DEFAULT_POLICY } from '@modelgate/policy';
import {
  createPromiseClient,
  DataType,
  decodeTensor,
  encodeTensor,
  GrpcError,
  ModelService,
  ModelVersionStatus_State,
  PredictionService,
  type PredictRequest,
  PredictRequestSchema,
  type PromiseClient,
  SavedModelSchema,
  SignatureDefMapSchema,
  type Tensor,
} from '@modelgate/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelRunner } from './model-runner.js';
import { createModelRunner } from './model-runner-factory.js';
import { expectGoldenPredictions, GOLDEN_MODELS } from './testing/golden-predictions.js';
import { type ServedFixtures, serveFixtures } from './testing/served-fixtures.js';

let runner: ModelRunner;
let served: ServedFixtures;
let predictions: PromiseClient<(typeof PredictionService)['method']>;
let models: PromiseClient<(typeof ModelService)['method']>;

beforeAll(async () => {
  runner = await createModelRunner({ prefer: 'wasm' });
  served = await serveFixtures(runner);
  predictions = createPromiseClient(PredictionService, `localhost:${served.grpcPort}`);
  models = createPromiseClient(ModelService, `localhost:${served.grpcPort}`);
});

afterAll(async () => {
  predictions?.close();
  models?.close();
  await served?.stop();
});

/** The GrpcError a call fails with. */
async function failure(call: Promise<unknown>): Promise<GrpcError> {
  try {
    await call;
  } catch (error) {
    if (error instanceof GrpcError) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
}

function request(init: Parameters<typeof create<typeof PredictRequestSchema>>[1]): PredictRequest {
  return create(PredictRequestSchema, init);
}

describe('Predict', () => {
  it.each(GOLDEN_MODELS)(
    'answers %s (graph %s) v%i within the golden tolerance, batches 1 and 3',
    (name, graph, version) => expectGoldenPredictions(predictions, name, graph, version),
  );

  it('answers the highest version when none is named, and says which in model_spec', async () => {
    const response = await predictions.predict(predictRequest(DEFAULT_POLICY, { model: 'classifier' }));
    expect(response.modelSpec).toMatchObject({
      name: 'classifier',
      signatureName: 'serving_default',
      versionChoice: { case: 'version', value: { value: 2n } },
    });
    const expected = buildModel('classifier', 2).evaluate(goldenInputs('classifier', 1))
      .probabilities as Tensor;
    expect(
      withinTolerance(
        decodeTensor(response.outputs.probabilities as never).values as Float32Array,
        expected.values as Float32Array,
      ).ok,
    ).toBe(true);
  });

  it('answers in the *_val fields by default (TensorProto::AsProtoField)', async () => {
    const response = await predictions.predict(predictRequest(DEFAULT_POLICY, { model: 'half_plus_two' }));
    expect(response.outputs.y?.floatVal).toHaveLength(1);
    expect(response.outputs.y?.tensorContent).toHaveLength(0);
    expect(response.outputs.y?.tensorShape?.dim.map((d) => d.size)).toEqual([1n]);
  });

  it('accepts the repeated-field form of inputs as well as tensor_content', async () => {
    const response = await predictions.predict(
      predictRequest(DEFAULT_POLICY, { model: 'half_plus_two' }, { form: 'repeated', batchSize: 3 }),
    );
    const x = goldenInputs('half_plus_two', 3).x?.values as Float32Array;
    expect(Array.from(decodeTensor(response.outputs.y as never).values as Float32Array)).toEqual(
      Array.from(x, (v) => Math.fround(Math.fround(0.5 * v) + 2)),
    );
  });

  it('answers only the outputs named in output_filter', async () => {
    const response = await predictions.predict({
      ...predictRequest(DEFAULT_POLICY, { model: 'classifier' }),
      outputFilter: ['probabilities'],
    });
    expect(Object.keys(response.outputs)).toEqual(['probabilities']);
  });

  it('takes and answers messages past grpc-js 4 MiB default (TF Serving lifts the limit)', async () => {
    const images = goldenInputs('convnet', 110).images as Tensor;
    expect((images.values as Float32Array).byteLength).toBeGreaterThan(5 * 1024 * 1024);
    const response = await predictions.predict({
      modelSpec: { name: 'convnet' },
      inputs: { images: encodeTensor(images) },
    });
    expect(response.outputs.probabilities?.tensorShape?.dim.map((d) => d.size)).toEqual([110n, 10n]);
  });
});

describe('Predict refusals (products.md 3c)', () => {
  const spec = (name: string) => ({ name });
  const x = encodeTensor({ dtype: DataType.DT_FLOAT, shape: [1, 4], values: new Float32Array(4) });

  it.each<[string, () => PredictRequest, status, string]>([
    [
      'unknown model',
      () => request({ modelSpec: spec('no_such_model'), inputs: { x } }),
      status.NOT_FOUND,
      'Servable not found for request: Latest(no_such_model)',
    ],
    [
      'unknown version',
      () =>
        request({
          modelSpec: { name: 'classifier', versionChoice: { case: 'version', value: { value: 999999n } } },
          inputs: { x },
        }),
      status.NOT_FOUND,
      'Servable not found for request: Specific(classifier, 999999)',
    ],
    [
      'unknown version label',
      () =>
        request({
          modelSpec: { name: 'classifier', versionChoice: { case: 'versionLabel', value: 'stable' } },
          inputs: { x },
        }),
      status.INVALID_ARGUMENT,
      'Unrecognized servable version label: stable',
    ],
    [
      'unknown signature',
      () => request({ modelSpec: { name: 'classifier', signatureName: 'no_such_signature' }, inputs: { x } }),
      status.FAILED_PRECONDITION,
      'Serving signature key "no_such_signature" not found.',
    ],
    [
      'a signature named like an Object.prototype member',
      () => request({ modelSpec: { name: 'classifier', signatureName: 'constructor' }, inputs: { x } }),
      status.FAILED_PRECONDITION,
      'Serving signature key "constructor" not found.',
    ],
    [
      'inputs do not match (extra input)',
      () => request({ modelSpec: spec('classifier'), inputs: { x, no_such_input: x } }),
      status.INVALID_ARGUMENT,
      'input size does not match signature: 2!=1 len({no_such_input,x}) != len({x}). Sent extra: {no_such_input}. Missing but required: {}.',
    ],
    [
      'inputs do not match (no input)',
      () => request({ modelSpec: spec('classifier'), inputs: {} }),
      status.INVALID_ARGUMENT,
      'input size does not match signature: 0!=1 len({}) != len({x}). Sent extra: {}. Missing but required: {x}.',
    ],
    [
      'inputs do not match (wrong alias)',
      () => request({ modelSpec: spec('classifier'), inputs: { no_such_input: x } }),
      status.INVALID_ARGUMENT,
      'Signature input alias: x(feed name: x:0) not found in request and no default value provided. Inputs expected to be in the request {no_such_input}, or default input alias set: ',
    ],
    [
      'bad output filter',
      () => request({ modelSpec: spec('classifier'), inputs: { x }, outputFilter: ['nope'] }),
      status.INVALID_ARGUMENT,
      'output tensor alias not found in signature: nope Outputs expected to be in the set {probabilities}.',
    ],
    [
      // a name every object literal answers to is no alias of the signature
      'output filter naming an Object.prototype member',
      () => request({ modelSpec: spec('classifier'), inputs: { x }, outputFilter: ['constructor'] }),
      status.INVALID_ARGUMENT,
      'output tensor alias not found in signature: constructor Outputs expected to be in the set {probabilities}.',
    ],
    [
      'output filter naming an alias twice',
      () =>
        request({
          modelSpec: spec('classifier'),
          inputs: { x },
          outputFilter: ['probabilities', 'probabilities'],
        }),
      status.INVALID_ARGUMENT,
      'duplicate output tensor alias: probabilities',
    ],
    ['no model spec', () => request({ inputs: { x } }), status.INVALID_ARGUMENT, 'Missing ModelSpec'],
    [
      'model spec without a name',
      () => request({ modelSpec: spec(''), inputs: { x } }),
      status.INVALID_ARGUMENT,
      'ModelSpec has no name specified.',
    ],
    [
      'wrong dtype',
      () =>
        request({
          modelSpec: spec('classifier'),
          inputs: { x: encodeTensor({ dtype: DataType.DT_INT32, shape: [1, 4], values: new Int32Array(4) }) },
        }),
      status.INVALID_ARGUMENT,
      'Expects arg[0] to be float but int32 is provided',
    ],
    [
      'tensor that does not parse',
      () =>
        request({ modelSpec: spec('classifier'), inputs: { x: { ...x, tensorContent: new Uint8Array(3) } } }),
      status.INVALID_ARGUMENT,
      'tensor parsing error: x',
    ],
  ])('%s', async (_case, make, code, message) => {
    const error = await failure(predictions.predict(make()));
    expect({ code: error.code, details: error.details }).toEqual({ code, details: message });
  });

  it('refuses a shape the graph cannot take with INVALID_ARGUMENT and the engine message', async () => {
    const wide = encodeTensor({ dtype: DataType.DT_FLOAT, shape: [1, 5], values: new Float32Array(5) });
    const error = await failure(predictions.predict({ modelSpec: spec('classifier'), inputs: { x: wide } }));
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    expect(error.details).toMatch(/shape|size/i);
  });

  it('truncates messages past 1024 characters with ...TRUNCATED', async () => {
    const name = 'm'.repeat(2000);
    const error = await failure(predictions.predict({ modelSpec: { name }, inputs: { x } }));
    const full = `Servable not found for request: Latest(${name})`;
    expect(error.details).toBe(`${full.slice(0, 1024)}...TRUNCATED`);
  });

  it.each(wrongRequests(DEFAULT_POLICY, 'classifier').map((wrong) => [wrong.kind, wrong] as const))(
    "gives the fixtures' %s request its expected code",
    async (_kind, wrong) => {
      const error = await failure(predictions.predict(wrong.grpc));
      expect(error.code).toBe(wrong.expectedGrpcCode);
    },
  );

  it.each([
    [
      'Classify on a predict signature',
      () => predictions.classify({ modelSpec: { name: 'classifier' } }),
      'No classification inputs found in SignatureDef: inputs {\n  key: "x"\n  value {\n    name: "x:0"\n    dtype: DT_FLOAT\n',
    ],
    [
      'Regress on a predict signature',
      () => predictions.regress({ modelSpec: { name: 'classifier' } }),
      'No regression inputs found in SignatureDef: inputs {\n  key: "x"',
    ],
    [
      'MultiInference without tasks',
      () => predictions.multiInference({}),
      'ModelSpec has no name specified.',
    ],
  ] as const)('refuses %s with INVALID_ARGUMENT and the real message', async (_name, call, message) => {
    const error = await failure(call());
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    expect(error.details.startsWith(message)).toBe(true);
  });
});

describe('GetModelMetadata', () => {
  it('answers the version and every SignatureDef, packed in an Any as SignatureDefMap', async () => {
    const response = await predictions.getModelMetadata({
      modelSpec: { name: 'classifier' },
      metadataField: ['signature_def'],
    });
    expect(response.modelSpec).toMatchObject({
      name: 'classifier',
      versionChoice: { case: 'version', value: { value: 2n } },
    });
    const packed = response.metadata.signature_def;
    expect(packed?.typeUrl).toBe('type.googleapis.com/tensorflow.serving.SignatureDefMap');
    const signatures = packed && anyUnpack(packed, SignatureDefMapSchema);
    const savedModel = fromBinary(SavedModelSchema, buildModel('classifier', 2).savedModel);
    expect(signatures?.signatureDef).toEqual(savedModel.metaGraphs[0]?.signatureDef);
  });

  it.each<[string, Parameters<typeof predictions.getModelMetadata>[0], status, string]>([
    ['no model spec', { metadataField: ['signature_def'] }, status.INVALID_ARGUMENT, 'Missing ModelSpec'],
    [
      'no field',
      { modelSpec: { name: 'classifier' } },
      status.INVALID_ARGUMENT,
      'GetModelMetadataRequest must specify at least one metadata_field',
    ],
    [
      'another field',
      { modelSpec: { name: 'classifier' }, metadataField: ['x'] },
      status.INVALID_ARGUMENT,
      'Metadata field x is not supported',
    ],
    [
      'unknown model',
      { modelSpec: { name: 'nope' }, metadataField: ['signature_def'] },
      status.NOT_FOUND,
      'Servable not found for request: Latest(nope)',
    ],
  ])('refuses %s', async (_case, init, code, details) => {
    const error = await failure(predictions.getModelMetadata(init));
    expect({ code: error.code, details: error.details }).toEqual({ code, details });
  });
});

describe('GetModelStatus', () => {
  it('answers every version, highest first, AVAILABLE with an OK status', async () => {
    const response = await models.getModelStatus({ modelSpec: { name: 'classifier' } });
    expect(
      response.modelVersionStatus.map((s) => ({
        version: s.version,
        state: s.state,
        code: s.status?.errorCode,
        message: s.status?.errorMessage,
      })),
    ).toEqual([
      { version: 2n, state: ModelVersionStatus_State.AVAILABLE, code: 0, message: '' },
      { version: 1n, state: ModelVersionStatus_State.AVAILABLE, code: 0, message: '' },
    ]);
  });

  it('answers one version when the spec names it, and ignores a label', async () => {
    const one = await models.getModelStatus({
      modelSpec: { name: 'classifier', versionChoice: { case: 'version', value: { value: 1n } } },
    });
    expect(one.modelVersionStatus.map((s) => s.version)).toEqual([1n]);
    const labelled = await models.getModelStatus({
      modelSpec: { name: 'classifier', versionChoice: { case: 'versionLabel', value: 'x' } },
    });
    expect(labelled.modelVersionStatus).toHaveLength(2);
  });

  it.each<[string, Parameters<typeof models.getModelStatus>[0], status, string]>([
    ['no model spec', {}, status.INVALID_ARGUMENT, 'Missing ModelSpec'],
    [
      'unknown model',
      { modelSpec: { name: 'no_such_model' } },
      status.NOT_FOUND,
      'Could not find any versions of model no_such_model',
    ],
    [
      'unknown version',
      { modelSpec: { name: 'classifier', versionChoice: { case: 'version', value: { value: 999999n } } } },
      status.NOT_FOUND,
      'Could not find version 999999 of model classifier',
    ],
  ])('refuses %s', async (_case, init, code, details) => {
    const error = await failure(models.getModelStatus(init));
    expect({ code: error.code, details: error.details }).toEqual({ code, details });
  });
});
