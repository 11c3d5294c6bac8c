import { buildModel, type GoldenFile, goldenFile, withinTolerance } from '@modelgate/fixtures';
import type { FixtureModelId } from '@modelgate/policy';
import {
  DataType,
  decodeRestPredictResponse,
  decodeTensor,
  type RestFormat,
  type RestSignature,
  type Tensor,
} from '@modelgate/proto';
import type { StackModel } from '@modelgate/stack';
import { beforeAll, describe, expect, it } from 'vitest';
import { gatewayFetch, gatewayGrpc, stack, tokens } from './support/context.js';
import { inputsOf, predictBody, predictRequest } from './support/payloads.js';

// Predictions through the gateway are right: for every fixture model and served version, batch 1 and 32, over
// REST (row and columnar) and gRPC (tensor_content and repeated fields), the outputs equal the golden ones
// within tolerance. For a team's own model, the outputs have the dtypes and shapes its signature promises.

const BATCHES = [1, 32];

function caller(model: StackModel) {
  const client = stack.clients.find((candidate) => candidate.models.includes(model.name));
  if (!client) throw new Error(`no client of the stack may call ${model.name}`);
  return client.id;
}

function restSignature(model: StackModel): RestSignature {
  return Object.fromEntries(
    model.signature.outputs.map((output) => [output.alias, DataType[output.dtype as 'DT_FLOAT'] as never]),
  ) as RestSignature;
}

function expectGolden(outputs: Record<string, Tensor>, golden: GoldenFile, batchSize: number): void {
  const expected = golden.cases.find((entry) => entry.batchSize === batchSize);
  if (!expected) throw new Error(`no golden case for batch ${batchSize}`);
  for (const [alias, want] of Object.entries(expected.outputs)) {
    const got = outputs[alias];
    expect(got?.shape, alias).toEqual(want.shape);
    const verdict = withinTolerance(got?.values as ArrayLike<number>, want.values, golden.tolerance);
    expect(verdict, `${alias} worst ${JSON.stringify(verdict.worst)}`).toMatchObject({ ok: true });
  }
}

const goldenModels = stack.models.filter((model) => model.fixture !== null);

describe.each(
  goldenModels.flatMap((model) =>
    model.servedVersions.map((version) => [model.name, version, model] as const),
  ),
)('%s version %i', (_name, version, model) => {
  let golden: GoldenFile;
  let token: string;

  beforeAll(async () => {
    golden = goldenFile(model.name, buildModel(model.fixture as FixtureModelId, version), BATCHES);
    token = await tokens().token(caller(model));
  });

  for (const batchSize of BATCHES) {
    for (const format of ['row', 'columnar'] as RestFormat[]) {
      it(`answers REST ${format}, batch ${batchSize}, within the golden tolerance`, async () => {
        const answer = await gatewayFetch(`/v1/models/${model.name}/versions/${version}:predict`, {
          token,
          body: predictBody(model, batchSize, format),
        });
        expect(answer.status, answer.text).toBe(200);
        expectGolden(decodeRestPredictResponse(answer.text, restSignature(model)).outputs, golden, batchSize);
      });
    }
    for (const form of ['content', 'repeated'] as const) {
      it(`answers gRPC with ${form === 'content' ? 'tensor_content' : 'repeated fields'}, batch ${batchSize}, within the golden tolerance`, async () => {
        const grpc = gatewayGrpc(token);
        try {
          const response = await grpc.predict(predictRequest(model, batchSize, { version, form }));
          expect(response.modelSpec?.versionChoice).toMatchObject({
            case: 'version',
            value: { value: BigInt(version) },
          });
          const outputs = Object.fromEntries(
            Object.entries(response.outputs).map(([alias, proto]) => [alias, decodeTensor(proto)]),
          );
          expectGolden(outputs, golden, batchSize);
        } finally {
          grpc.close();
        }
      });
    }
  }
});

const ownModels = stack.models.filter((model) => model.fixture === null);

describe.runIf(ownModels.length > 0).each(ownModels.map((model) => [model.name, model] as const))(
  '%s (a model of your own)',
  (_name, model) => {
    it('answers with the dtypes and shapes its signature promises', async () => {
      const token = await tokens().token(caller(model));
      const grpc = gatewayGrpc(token);
      try {
        const batchSize = 3;
        const response = await grpc.predict(predictRequest(model, batchSize));
        for (const output of model.signature.outputs) {
          const tensor = decodeTensor(response.outputs[output.alias] ?? expect.unreachable());
          expect(DataType[tensor.dtype]).toBe(output.dtype);
          if (output.shape) {
            expect(tensor.shape).toEqual(
              output.shape.map((dim, at) => (dim >= 0 ? dim : at === 0 ? batchSize : tensor.shape[at])),
            );
          }
        }
        expect(Object.keys(inputsOf(model, 1)).sort()).toEqual(
          model.signature.inputs.map((input) => input.alias).sort(),
        );
      } finally {
        grpc.close();
      }
    });
  },
);
