import type { MessageInitShape } from '@bufbuild/protobuf';
import { status } from '@grpc/grpc-js';
import { GOLDEN_TOLERANCE, withinTolerance } from '@modelgate/fixtures';
import type { ExampleSchema } from '@modelgate/proto';
import {
  createPromiseClient,
  type Example,
  PredictionService,
  type PromiseClient,
  parseRestJson,
} from '@modelgate/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTfjs } from './backend/tfjs-backend.js';
import { createModelRunner } from './model-runner-factory.js';
import { corpusConfig, EXPORT_TIMEOUT_MS, type ExampleModel, pythonCorpus } from './testing/python-corpus.js';
import { TfServingEmulator } from './tf-serving-emulator.js';

// Classify, Regress and MultiInference (gRPC) and :classify/:regress (REST) on a model fed serialized
// tf.Examples, exported by the pinned TensorFlow with classify and regress signatures (Estimator style), on
// tfjs-node, against what TensorFlow computed for the same examples.

let emulator: TfServingEmulator;
let expected: ExampleModel;
let predictions: PromiseClient<(typeof PredictionService)['method']>;
let rest: string;

beforeAll(async () => {
  const corpus = await pythonCorpus();
  expected = corpus.example_models.example_classifier;
  emulator = new TfServingEmulator({
    pickFreeGrpcPort: true,
    pickFreeRestPort: true,
    modelConfig: corpusConfig(corpus.dir, ['example_classifier']),
    runner: await createModelRunner({ loadTfjs, prefer: 'tensorflow' }),
    log: () => {},
  });
  const { grpcPort, restPort } = await emulator.start();
  predictions = createPromiseClient(PredictionService, `localhost:${grpcPort}`);
  rest = `http://127.0.0.1:${restPort}/v1/models/example_classifier`;
}, EXPORT_TIMEOUT_MS + 30_000);

afterAll(async () => {
  predictions?.close();
  await emulator?.stop();
});

const examples = (): MessageInitShape<typeof ExampleSchema>[] =>
  expected.features.map((x) => ({
    features: { feature: { x: { kind: { case: 'floatList', value: { value: x } } } } },
  }));
const input = () => ({
  kind: { case: 'exampleList' as const, value: { examples: examples() as Example[] } },
});
const close = (actual: number[], want: number[]) => withinTolerance(actual, want, GOLDEN_TOLERANCE).ok;

describe('Classify and Regress on tf.Example inputs', () => {
  it('classifies as TensorFlow does: labels and scores per example', async () => {
    const response = await predictions.classify({
      modelSpec: { name: 'example_classifier' },
      input: input(),
    });
    expect(response.modelSpec).toMatchObject({
      name: 'example_classifier',
      signatureName: 'serving_default',
    });
    const classifications = response.result?.classifications ?? [];
    expect(classifications.map((c) => c.classes.map((k) => k.label))).toEqual(expected.classes);
    expect(
      close(
        classifications.flatMap((c) => c.classes.map((k) => k.score)),
        expected.scores.flat(),
      ),
    ).toBe(true);
  });

  it('regresses with the regress signature', async () => {
    const response = await predictions.regress({
      modelSpec: { name: 'example_classifier', signatureName: 'regress' },
      input: input(),
    });
    expect(close(response.result?.regressions.map((r) => r.value) ?? [], expected.regression)).toBe(true);
  });

  it('runs both in one MultiInference', async () => {
    const response = await predictions.multiInference({
      tasks: [
        { modelSpec: { name: 'example_classifier' }, methodName: 'tensorflow/serving/classify' },
        {
          modelSpec: { name: 'example_classifier', signatureName: 'regress' },
          methodName: 'tensorflow/serving/regress',
        },
      ],
      input: input(),
    });
    expect(response.results.map((r) => r.result.case)).toEqual(['classificationResult', 'regressionResult']);
  });

  it.each([
    [
      'classify on the regress signature',
      () =>
        predictions.classify({
          modelSpec: { name: 'example_classifier', signatureName: 'regress' },
          input: input(),
        }),
      'Expected classification signature outputs to contain at least one of "classes" or "scores". Signature was: inputs {\n  key: "inputs"',
    ],
    [
      'regress on the classify signature',
      () => predictions.regress({ modelSpec: { name: 'example_classifier' }, input: input() }),
      'Expected one output Tensor.',
    ],
    [
      'an empty input',
      () => predictions.classify({ modelSpec: { name: 'example_classifier' } }),
      'Input is empty.',
    ],
    [
      'an unknown signature',
      () =>
        predictions.classify({
          modelSpec: { name: 'example_classifier', signatureName: 'nope' },
          input: input(),
        }),
      'No signature was found with the name: nope',
    ],
    [
      'a signature named like an Object.prototype member',
      () =>
        predictions.classify({
          modelSpec: { name: 'example_classifier', signatureName: 'toString' },
          input: input(),
        }),
      'No signature was found with the name: toString',
    ],
  ])('refuses %s with INVALID_ARGUMENT and the real message', async (_label, call, message) => {
    await expect(call()).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: expect.stringContaining(message),
    });
  });

  it('refuses a MultiInference task of another method with UNIMPLEMENTED', async () => {
    await expect(
      predictions.multiInference({
        tasks: [{ modelSpec: { name: 'example_classifier' }, methodName: 'tensorflow/serving/predict' }],
        input: input(),
      }),
    ).rejects.toMatchObject({
      code: status.UNIMPLEMENTED,
      details: 'Unsupported signature method_name: tensorflow/serving/predict',
    });
  });
});

describe('REST :classify and :regress', () => {
  const body = (extra = '') =>
    `{${extra}"examples": [${expected.features.map((x) => `{"x": [${x.join(', ')}]}`).join(', ')}]}`;

  it('answers :classify with [label, score] pairs per example', async () => {
    const response = await fetch(`${rest}:classify`, { method: 'POST', body: body() });
    const text = await response.text();
    expect(response.status).toBe(200);
    const results = (parseRestJson(text) as { results: [string, number][][] }).results;
    expect(results.map((r) => r.map(([label]) => label))).toEqual(expected.classes);
    expect(
      close(
        results.flatMap((r) => r.map(([, score]) => score)),
        expected.scores.flat(),
      ),
    ).toBe(true);
    // The layout of the real PrettyWriter, single-line arrays switched on per example: rows on one line.
    expect(text).toMatch(
      /^\{\n {4}"results": \[\[\["cat", [0-9.e-]+\], \["dog", [0-9.e-]+\], \["bird", [0-9.e-]+\]\], \[\["cat", .*\]\]\n {4}\]\n\}$/,
    );
  });

  it('answers :regress with one value per example', async () => {
    const response = await fetch(`${rest}:regress`, {
      method: 'POST',
      body: body('"signature_name": "regress", '),
    });
    const text = await response.text();
    expect(response.status).toBe(200);
    expect(close((parseRestJson(text) as { results: number[] }).results, expected.regression)).toBe(true);
  });

  it.each([
    [
      '{"signature_name": "regress"}',
      "When method is classify, key 'examples' is expected and was not found",
    ],
    ['{"examples": []}', "'examples' value is an empty array"],
    ['{"examples": [{"x": [1.5, 2]}]}', 'Unexpected element type in feature: x expecting type: float'],
    ['{"examples": [{"x": null}]}', 'Feature: x has element with unexpected JSON type: Null'],
  ])('refuses %s with the real message', async (text, message) => {
    const response = await fetch(`${rest}:regress`, { method: 'POST', body: text });
    expect(response.status).toBe(400);
    expect(await response.text()).toContain(message);
  });
});
