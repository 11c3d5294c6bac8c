import {
  buildModel,
  type FixtureGraphId,
  GOLDEN_TOLERANCE,
  goldenFile,
  withinTolerance,
} from '@modelgate/fixtures';
import {
  DataType,
  decodeTensor,
  encodeTensor,
  type PredictionService,
  type PromiseClient,
} from '@modelgate/proto';
import { expect } from 'vitest';

/** The fixture models and versions every engine must answer within the golden tolerance. */
export const GOLDEN_MODELS = [
  ['half_plus_two', 'half_plus_two', 1],
  ['classifier', 'classifier', 1],
  ['classifier', 'classifier', 2],
  ['convnet', 'convnet', 1],
] as const satisfies readonly (readonly [string, FixtureGraphId, number])[];

/** Sends every golden case of a model version over gRPC Predict and checks each output against the golden one. */
export async function expectGoldenPredictions(
  predictions: PromiseClient<(typeof PredictionService)['method']>,
  name: string,
  graph: FixtureGraphId,
  version: number,
): Promise<void> {
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
      expect(output, `output ${alias} of ${name} v${version}`).toBeDefined();
      const actual = decodeTensor(output as NonNullable<typeof output>);
      expect(actual.shape).toEqual(expected.shape);
      expect(withinTolerance(actual.values as Float32Array, expected.values, GOLDEN_TOLERANCE)).toMatchObject(
        { ok: true },
      );
    }
  }
}
