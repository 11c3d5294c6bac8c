import { create, toBinary } from '@bufbuild/protobuf';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import {
  createPromiseClient,
  GetModelMetadataRequestSchema,
  GrpcError,
  ModelService,
  ModelSpecSchema,
  methodPath,
  PredictionService,
  PredictRequestSchema,
} from '@modelgate/proto';
import type { StackClient, StackModel } from '@modelgate/stack';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { type AccessOutcome, recordOutcome } from './support/access-report.js';
import { gatewayFetch, modelServerRequests, rawHttp, stack, tokens } from './support/context.js';
import { predictBody, predictRequest } from './support/payloads.js';
import { grpcFrame, rawGrpcCall } from './support/raw-grpc.js';

// Who may call which model: every client of the policy against every model, for predict, metadata and status,
// over REST and gRPC: the allowed calls succeed and the rest are refused with 403 / PERMISSION_DENIED. Then
// requests crafted to slip past the check: another model named in the gRPC body, several messages, compressed
// frames, and REST paths sent raw on the socket with encoded characters, dot segments, double slashes and case.

const reportDir = inject('reportDir');
const FORBIDDEN = 'You cannot consume this model';
type Operation = 'predict' | 'metadata' | 'status' | 'classify' | 'regress';
const OPERATIONS: Operation[] = ['predict', 'metadata', 'status', 'classify', 'regress'];
/** Classify and regress reach the model server, which answers by the signature's method (an error for a predict one). */
const MODEL_SERVER_DECIDES: Operation[] = ['classify', 'regress'];

/** A tf.Example request, for classify and regress: one example with the model's first input as a float list. */
function exampleInput(model: StackModel) {
  const feature = model.signature.inputs[0]?.alias ?? 'x';
  return {
    kind: {
      case: 'exampleList' as const,
      value: {
        examples: [
          {
            features: {
              feature: { [feature]: { kind: { case: 'floatList' as const, value: { value: [1] } } } },
            },
          },
        ],
      },
    },
  };
}

const record = (outcome: Omit<AccessOutcome, 'kind'>) =>
  recordOutcome(reportDir, { kind: 'access', ...outcome });

async function restCall(operation: Operation, model: StackModel, token: string) {
  const base = `/v1/models/${model.name}`;
  if (operation === 'predict') return gatewayFetch(`${base}:predict`, { token, body: predictBody(model, 1) });
  if (operation === 'classify' || operation === 'regress') {
    const feature = model.signature.inputs[0]?.alias ?? 'x';
    return gatewayFetch(`${base}:${operation}`, {
      token,
      body: JSON.stringify({ examples: [{ [feature]: [1.0] }] }),
    });
  }
  return gatewayFetch(operation === 'metadata' ? `${base}/metadata` : base, { token });
}

async function grpcCall(operation: Operation, model: StackModel, token: string): Promise<GrpcError | null> {
  const target = stack.gateway.grpc;
  try {
    if (operation === 'status') {
      const client = createPromiseClient(ModelService, target, { bearerToken: token });
      try {
        await client.getModelStatus({ modelSpec: { name: model.name } });
      } finally {
        client.close();
      }
      return null;
    }
    const client = createPromiseClient(PredictionService, target, { bearerToken: token });
    try {
      if (operation === 'predict') await client.predict(predictRequest(model, 1));
      else if (operation === 'classify')
        await client.classify({ modelSpec: { name: model.name }, input: exampleInput(model) });
      else if (operation === 'regress')
        await client.regress({ modelSpec: { name: model.name }, input: exampleInput(model) });
      else
        await client.getModelMetadata(
          create(GetModelMetadataRequestSchema, {
            modelSpec: { name: model.name },
            metadataField: ['signature_def'],
          }),
        );
    } finally {
      client.close();
    }
    return null;
  } catch (error) {
    if (error instanceof GrpcError) return error;
    throw error;
  }
}

describe.each(stack.clients.map((client) => [client.id, client] as const))(
  'client %s',
  (_id, client: StackClient) => {
    let token: string;

    beforeAll(async () => {
      token = await tokens().token(client.id);
    });

    for (const model of stack.models) {
      const allowed = client.models.includes(model.name);
      for (const operation of OPERATIONS) {
        it(`${allowed ? 'may' : 'may not'} ${operation} ${model.name} over REST`, async () => {
          const answer = await restCall(operation, model, token);
          record({
            client: client.id,
            model: model.name,
            operation,
            protocol: 'rest',
            expected: allowed ? 'allowed' : 'refused',
            observed:
              answer.status === 200 ||
              (allowed && answer.status === 400 && MODEL_SERVER_DECIDES.includes(operation))
                ? `allowed (${answer.status}${answer.status === 200 ? '' : ' from the model server'})`
                : `refused (${answer.status})`,
          });
          if (allowed && MODEL_SERVER_DECIDES.includes(operation)) {
            // past the gateway: the model server's own answer (a result, or its error for the signature's method)
            expect([401, 403, 404, 429]).not.toContain(answer.status);
            expect(Object.keys(JSON.parse(answer.text))).toEqual([
              answer.status === 200 ? 'result' : 'error',
            ]);
          } else if (allowed) {
            expect(answer.status, answer.text).toBe(200);
          } else {
            expect(answer.status).toBe(403);
            expect(JSON.parse(answer.text)).toMatchObject({ message: FORBIDDEN });
          }
        });

        it(`${allowed ? 'may' : 'may not'} ${operation} ${model.name} over gRPC`, async () => {
          const error = await grpcCall(operation, model, token);
          record({
            client: client.id,
            model: model.name,
            operation,
            protocol: 'grpc',
            expected: allowed ? 'allowed' : 'refused',
            observed: !error
              ? 'allowed (OK)'
              : error.code === 7 || error.code === 16
                ? `refused (${error.code})`
                : `allowed (${error.code} from the model server)`,
          });
          if (allowed && MODEL_SERVER_DECIDES.includes(operation)) expect([7, 16]).not.toContain(error?.code);
          else if (allowed) expect(error, error?.details).toBeNull();
          else expect(error).toMatchObject({ code: 7, details: FORBIDDEN });
        });
      }
    }
  },
);

// A client allowed some models but not all: the one requests are crafted for.
const partial = stack.clients.find(
  (client) => client.models.length > 0 && stack.models.some((model) => !client.models.includes(model.name)),
);

describe.runIf(partial !== undefined)('requests crafted to reach a model the client may not call', () => {
  const client = partial as StackClient;
  const granted = stack.models.find((model) => client.models.includes(model.name)) as StackModel;
  const forbidden = stack.models.find((model) => !client.models.includes(model.name)) as StackModel;
  let token: string;
  let before: number | null;

  beforeAll(async () => {
    token = await tokens().token(client.id);
    before = await modelServerRequests();
  });

  const raw = (path: string) =>
    rawHttp(
      'POST',
      path,
      { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      predictBody(granted, 1),
    );

  it.each([
    ['a dot segment', `/v1/models/${granted.name}/../${forbidden.name}:predict`],
    [
      'a percent-encoded letter',
      `/v1/models/%${forbidden.name.charCodeAt(0).toString(16)}${forbidden.name.slice(1)}:predict`,
    ],
    ['a version', `/v1/models/${forbidden.name}/versions/1:predict`],
    ['a label', `/v1/models/${forbidden.name}/labels/stable:predict`],
  ])('REST with %s in the path is refused with 403', async (_what, path) => {
    const answer = await raw(path);
    expect(answer.status).toBe(403);
    expect(JSON.parse(answer.body)).toMatchObject({ message: FORBIDDEN });
  });

  it.each([
    ['a double slash', `/v1//models/${forbidden.name}:predict`],
    ['another case', `/v1/models/${forbidden.name.toUpperCase()}:predict`],
    ['an encoded slash', `/v1/models/${granted.name}%2F..%2F${forbidden.name}:predict`],
  ])('REST with %s in the path never reaches the model', async (_what, path) => {
    const answer = await raw(path);
    expect([400, 403, 404]).toContain(answer.status);
  });

  const predictPath = methodPath(PredictionService.method.predict);
  const grantedMessage = () => toBinary(PredictRequestSchema, predictRequest(granted, 1));

  it('gRPC naming the forbidden model in a second model_spec is refused (protobuf merges, the last name wins)', async () => {
    const second = new BinaryWriter()
      .tag(1, WireType.LengthDelimited)
      .bytes(toBinary(ModelSpecSchema, create(ModelSpecSchema, { name: forbidden.name })))
      .finish();
    const body = grpcFrame(new Uint8Array([...grantedMessage(), ...second]));
    const answer = await rawGrpcCall(predictPath, body, { authorization: `Bearer ${token}` });
    expect(answer).toMatchObject({ httpStatus: 403, grpcStatus: 7, grpcMessage: FORBIDDEN });
  });

  it('gRPC with two messages in one call is refused', async () => {
    const forbiddenMessage = toBinary(PredictRequestSchema, predictRequest(forbidden, 1));
    const body = new Uint8Array([...grpcFrame(grantedMessage()), ...grpcFrame(forbiddenMessage)]);
    const answer = await rawGrpcCall(predictPath, body, { authorization: `Bearer ${token}` });
    expect(answer).toMatchObject({
      httpStatus: 400,
      grpcStatus: 3,
      grpcMessage: 'Expected exactly one gRPC message',
    });
  });

  it('gRPC with a compressed frame is refused: the gateway cannot read the model in it', async () => {
    const body = grpcFrame(toBinary(PredictRequestSchema, predictRequest(forbidden, 1)), true);
    const answer = await rawGrpcCall(predictPath, body, {
      authorization: `Bearer ${token}`,
      'grpc-encoding': 'gzip',
    });
    expect(answer).toMatchObject({
      httpStatus: 501,
      grpcStatus: 12,
      grpcMessage: 'Compressed gRPC messages are not supported',
    });
  });

  it('none of these reached the model server', async () => {
    expect(await modelServerRequests()).toBe(before);
  });
});
