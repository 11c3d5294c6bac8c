import { goldenInputs, predictRequestOf, signatureInputs } from '@modelgate/fixtures';
import type { FixtureModelId } from '@modelgate/policy';
import {
  type EncodeTensorOptions,
  encodeRestPredictRequest,
  type PredictRequest,
  type RestFormat,
  type Tensor,
} from '@modelgate/proto';
import type { StackModel } from '@modelgate/stack';

// Requests for a model of the stack description: a fixture model's golden inputs, or seeded inputs of the right
// dtypes and shapes for a team's own model.

export function inputsOf(model: StackModel, batchSize: number): Record<string, Tensor> {
  if (model.fixture) return goldenInputs(model.fixture as FixtureModelId, batchSize);
  return signatureInputs(model.signature, batchSize, `modelgate/contract/${model.name}`);
}

export function predictBody(model: StackModel, batchSize: number, format: RestFormat = 'row'): string {
  return encodeRestPredictRequest(inputsOf(model, batchSize), { format });
}

export function predictRequest(
  model: StackModel,
  batchSize: number,
  options: { version?: number; form?: EncodeTensorOptions['form']; name?: string } = {},
): PredictRequest {
  return predictRequestOf(
    inputsOf(model, batchSize),
    { model: options.name ?? model.name, version: options.version },
    options.form,
  );
}
