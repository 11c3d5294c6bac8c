import { create } from '@bufbuild/protobuf';
import { DataType, encodeTensor, GrpcError, PredictRequestSchema } from '@modelgate/proto';
import type { StackModel } from '@modelgate/stack';
import { beforeAll, describe, expect, it } from 'vitest';
import { gatewayFetch, gatewayGrpc, stack, tokens } from './support/context.js';
import { inputsOf, predictBody, predictRequest } from './support/payloads.js';

// Requests the model server refuses, sent through the gateway: TF Serving's codes and messages arrive intact,
// and afterwards the gateway and the model server go on serving. A model the stack does not have is the
// gateway's to refuse (no route over REST; not granted over gRPC).

const model = stack.models.find(
  (candidate) =>
    candidate.signature.inputs.length === 1 &&
    candidate.signature.inputs[0]?.dtype === 'DT_FLOAT' &&
    stack.clients.some((client) => client.models.includes(candidate.name)),
) as StackModel;
const client = stack.clients.find((candidate) => candidate.models.includes(model.name));
const alias = model?.signature.inputs[0]?.alias as string;
const UNKNOWN_VERSION = 999_999;

let token: string;

beforeAll(async () => {
  if (!model || !client)
    throw new Error('the suite needs a model with one float input that a client may call');
  token = await tokens().token(client.id);
});

async function restError(path: string, body: string) {
  const answer = await gatewayFetch(path, { token, body });
  return { status: answer.status, error: (JSON.parse(answer.text) as { error?: string }).error };
}

async function grpcError(request: ReturnType<typeof predictRequest>): Promise<GrpcError> {
  const grpc = gatewayGrpc(token);
  try {
    const error = await grpc.predict(request).catch((caught: unknown) => caught);
    if (!(error instanceof GrpcError)) throw new Error(`expected a refusal, got ${JSON.stringify(error)}`);
    return error;
  } finally {
    grpc.close();
  }
}

describe('bad input through the gateway', () => {
  it('a version the model does not have: NOT_FOUND, REST 404, with the servable in the message', async () => {
    const message = `Servable not found for request: Specific(${model.name}, ${UNKNOWN_VERSION})`;
    expect(
      await restError(`/v1/models/${model.name}/versions/${UNKNOWN_VERSION}:predict`, predictBody(model, 1)),
    ).toEqual({
      status: 404,
      error: message,
    });
    expect(await grpcError(predictRequest(model, 1, { version: UNKNOWN_VERSION }))).toMatchObject({
      code: 5,
      details: message,
    });
  });

  it('a label nobody assigned: INVALID_ARGUMENT over REST', async () => {
    expect(await restError(`/v1/models/${model.name}/labels/nope:predict`, predictBody(model, 1))).toEqual({
      status: 400,
      error: 'Unrecognized servable version label: nope',
    });
  });

  it('a signature the model does not have: REST 400, gRPC FAILED_PRECONDITION, each with its message', async () => {
    const body = JSON.stringify({ signature_name: 'nope', ...JSON.parse(predictBody(model, 1)) });
    expect(await restError(`/v1/models/${model.name}:predict`, body)).toEqual({
      status: 400,
      error: 'Serving signature name: "nope" not found in signature def',
    });
    const request = predictRequest(model, 1);
    if (request.modelSpec) request.modelSpec.signatureName = 'nope';
    expect(await grpcError(request)).toMatchObject({
      code: 9,
      details: 'Serving signature key "nope" not found.',
    });
  });

  it('a float input sent as int32: INVALID_ARGUMENT naming the dtypes', async () => {
    const tensor = inputsOf(model, 1)[alias];
    const request = create(PredictRequestSchema, {
      modelSpec: { name: model.name },
      inputs: {
        [alias]: encodeTensor({
          dtype: DataType.DT_INT32,
          shape: tensor?.shape ?? [1],
          values: Int32Array.from(tensor?.values as ArrayLike<number>),
        }),
      },
    });
    const error = await grpcError(request);
    expect(error.code).toBe(3);
    expect(error.details).toBe('Expects arg[0] to be float but int32 is provided');
  });

  it('an input the signature does not have: INVALID_ARGUMENT over REST and gRPC', async () => {
    const tensor = inputsOf(model, 1)[alias];
    const rest = await restError(
      `/v1/models/${model.name}:predict`,
      JSON.stringify({ inputs: { no_such_input: JSON.parse(predictBody(model, 1)).instances } }),
    );
    expect(rest.status).toBe(400);
    expect(rest.error).toBeTruthy();
    const request = create(PredictRequestSchema, {
      modelSpec: { name: model.name },
      inputs: { no_such_input: encodeTensor(tensor ?? expect.unreachable()) },
    });
    const error = await grpcError(request);
    expect(error.code).toBe(3);
    expect(error.details).toContain('no_such_input');
  });

  it('a model the stack does not have: no route over REST (404), not granted over gRPC (403)', async () => {
    const rest = await gatewayFetch('/v1/models/no_such_model:predict', {
      token,
      body: predictBody(model, 1),
    });
    expect(rest.status).toBe(404);
    expect(JSON.parse(rest.text)).toMatchObject({ message: 'no Route matched with those values' });
    expect(await grpcError(predictRequest(model, 1, { name: 'no_such_model' }))).toMatchObject({
      code: 7,
      details: 'You cannot consume this model',
    });
  });

  it('leaves the gateway and the model server serving', async () => {
    const answer = await gatewayFetch(`/v1/models/${model.name}:predict`, {
      token,
      body: predictBody(model, 1),
    });
    expect(answer.status).toBe(200);
    if (stack.gateway.status) expect((await fetch(`${stack.gateway.status}/status/ready`)).status).toBe(200);
  });
});
