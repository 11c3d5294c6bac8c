import { buildModel, GOLDEN_TOLERANCE, goldenFile, withinTolerance } from '@modelgate/fixtures';
import {
  createPromiseClient,
  DataType,
  decodeTensor,
  encodeTensor,
  type PredictionService,
  PredictionService as PredictionServiceDescriptor,
  type PromiseClient,
} from '@modelgate/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTfjs } from './backend/tfjs-backend.js';
import type { ModelRunner } from './model-runner.js';
import { createModelRunner } from './model-runner-factory.js';
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

  it.each([
    ['half_plus_two', 'half_plus_two', 1],
    ['classifier', 'classifier', 1],
    ['classifier', 'classifier', 2],
    ['convnet', 'convnet', 1],
  ] as const)('answers %s v%i within the golden tolerance, batches 1 and 3', async (name, graph, version) => {
    for (const goldenCase of goldenFile(name, buildModel(graph, version)).cases) {
      const response = await predictions.predict({
        modelSpec: { name, versionChoice: { case: 'version', value: { value: BigInt(version) } } },
        inputs: Object.fromEntries(
          Object.entries(goldenCase.inputs).map(([alias, t]) => [
            alias,
            encodeTensor({ dtype: DataType.DT_FLOAT, shape: t.shape, values: Float32Array.from(t.values) }),
          ]),
        ),
      });
      for (const [alias, expected] of Object.entries(goldenCase.outputs)) {
        const output = response.outputs[alias];
        expect(output, `output ${alias}`).toBeDefined();
        const actual = decodeTensor(output as NonNullable<typeof output>);
        expect(actual.shape).toEqual(expected.shape);
        expect(
          withinTolerance(actual.values as Float32Array, expected.values, GOLDEN_TOLERANCE),
        ).toMatchObject({ ok: true });
      }
    }
  });
});
