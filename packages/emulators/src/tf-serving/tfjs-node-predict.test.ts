import {
  createPromiseClient,
  type PredictionService,
  PredictionService as PredictionServiceDescriptor,
  type PromiseClient,
} from '@modelgate/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTfjs } from './backend/tfjs-backend.js';
import type { ModelRunner } from './model-runner.js';
import { createModelRunner } from './model-runner-factory.js';
import { expectGoldenPredictions, GOLDEN_MODELS } from './testing/golden-predictions.js';
import { type ServedFixtures, serveFixtures } from './testing/served-fixtures.js';

// The same golden check as grpc-service.test.ts (which runs on wasm), on TensorFlow's own kernels: the
// emulator loads each SavedModel with tf.node.loadSavedModel on the tfjs-node setup (node
// scripts/tfjs-node/setup.mjs). Without that setup this fails, saying so, rather than testing wasm twice.

let runner: ModelRunner;
let served: ServedFixtures;
let predictions: PromiseClient<(typeof PredictionService)['method']>;

beforeAll(async () => {
  runner = await createModelRunner({ loadTfjs, prefer: 'tensorflow' });
  served = await serveFixtures(runner);
  predictions = createPromiseClient(PredictionServiceDescriptor, `localhost:${served.grpcPort}`);
}, 60_000);

afterAll(async () => {
  predictions?.close();
  await served?.stop();
});

describe('Predict on tfjs-node', () => {
  it('runs on TensorFlow C library kernels', () => {
    expect(runner.description, 'no tfjs-node setup: run `node scripts/tfjs-node/setup.mjs`').toMatch(
      /tfjs-node/,
    );
  });

  it.each(GOLDEN_MODELS)(
    'answers %s (graph %s) v%i within the golden tolerance, batches 1 and 3',
    (name, graph, version) => expectGoldenPredictions(predictions, name, graph, version),
  );
});
