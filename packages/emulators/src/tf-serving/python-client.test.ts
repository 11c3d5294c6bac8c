import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { GOLDEN_TOLERANCE, withinTolerance } from '@modelgate/fixtures';
import { tensorflowPython } from '@modelgate/policy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTfjs } from './backend/tfjs-backend.js';
import { createModelRunner } from './model-runner-factory.js';
import {
  type CorpusModel,
  corpusConfig,
  EXPORT_TIMEOUT_MS,
  type ExampleModel,
  pythonCorpus,
} from './testing/python-corpus.js';
import { TfServingEmulator } from './tf-serving-emulator.js';

// The emulator called by the real TF Serving Python client (tensorflow-serving-api 2.21.0, installed by
// scripts/setup-tensorflow.sh), as a user's code calls TF Serving: Predict, GetModelStatus, GetModelMetadata,
// Classify over gRPC and Predict over REST, on tfjs-node, against TensorFlow's own outputs.

const CLIENT = fileURLToPath(new URL('../../scripts/tf_serving_python_client.py', import.meta.url));

interface ClientAnswer {
  predict: { probabilities: number[][]; class_ids: number[] };
  predict_version: number;
  status: [number, number][];
  metadata_inputs: string[];
  classify: [string, number][][];
  rest_predict: { probabilities: number[][]; class_ids: number[] };
  unknown_model: string;
  classify_on_predict_signature: string;
}

let emulator: TfServingEmulator;
let answer: ClientAnswer;
let argmax: CorpusModel;
let examples: ExampleModel;

beforeAll(async () => {
  const corpus = await pythonCorpus();
  argmax = corpus.models.argmax_classifier as CorpusModel;
  examples = corpus.example_models.example_classifier;
  emulator = new TfServingEmulator({
    pickFreeGrpcPort: true,
    pickFreeRestPort: true,
    modelConfig: corpusConfig(corpus.dir, ['argmax_classifier', 'example_classifier']),
    runner: await createModelRunner({ loadTfjs, prefer: 'tensorflow' }),
    log: () => {},
  });
  const { grpcPort, restPort } = await emulator.start();
  const x = argmax.inputs.x;
  const rows = Array.from({ length: x?.shape[0] ?? 0 }, (_, i) => x?.values.slice(i * 4, i * 4 + 4));
  const request = {
    predict: { model: 'argmax_classifier', inputs: { x: { dtype: 'float32', values: rows } } },
    classify: { model: 'example_classifier', features: examples.features },
  };
  answer = await new Promise<ClientAnswer>((resolve, reject) => {
    execFile(
      tensorflowPython(),
      [CLIENT, `127.0.0.1:${grpcPort}`, `http://127.0.0.1:${restPort}`, JSON.stringify(request)],
      { timeout: 120_000 },
      (error, stdout, stderr) =>
        error
          ? reject(new Error(`${CLIENT} failed: ${error.message}\n${stderr}`))
          : resolve(JSON.parse(stdout)),
    );
  });
}, EXPORT_TIMEOUT_MS + 150_000);

afterAll(() => emulator?.stop());

describe('the real TF Serving Python client against the emulator', () => {
  it('gets Predict outputs as TensorFlow computes them, int64 class ids included', () => {
    const probabilities = argmax.outputs.probabilities;
    expect(
      withinTolerance(
        answer.predict.probabilities.flat(),
        probabilities?.values as number[],
        GOLDEN_TOLERANCE,
      ).ok,
    ).toBe(true);
    expect(answer.predict.class_ids).toEqual(argmax.outputs.class_ids?.values.map(Number));
    expect(answer.predict_version).toBe(1);
  });

  it('reads the status and the metadata', () => {
    expect(answer.status).toEqual([[1, 30]]);
    expect(answer.metadata_inputs).toEqual(['x']);
  });

  it('classifies tf.Examples', () => {
    expect(answer.classify.map((row) => row.map(([label]) => label))).toEqual(examples.classes);
    expect(
      withinTolerance(
        answer.classify.flat().map(([, score]) => score),
        examples.scores.flat(),
        GOLDEN_TOLERANCE,
      ).ok,
    ).toBe(true);
  });

  it('gets the same Predict over REST', () => {
    expect(answer.rest_predict.class_ids).toEqual(answer.predict.class_ids);
  });

  it('sees the real status codes', () => {
    expect(answer.unknown_model).toBe('NOT_FOUND');
    expect(answer.classify_on_predict_signature).toBe('INVALID_ARGUMENT');
  });
});
