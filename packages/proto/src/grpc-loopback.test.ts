import { create } from '@bufbuild/protobuf';
import { anyPack, anyUnpack, Int64ValueSchema } from '@bufbuild/protobuf/wkt';
import { Metadata, Server, ServerCredentials, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addUnaryService,
  createPromiseClient,
  DataType,
  DEFAULT_CHANNEL_OPTIONS,
  GrpcError,
  ModelService,
  ModelVersionStatus_State,
  PredictionService,
  type PromiseClient,
  SignatureDefMapSchema,
  TensorInfoSchema,
  TensorProtoSchema,
} from './index.js';

function vectorInfo(name: string) {
  return create(TensorInfoSchema, {
    encoding: { case: 'name', value: name },
    dtype: DataType.DT_FLOAT,
    tensorShape: { dim: [{ size: -1n }] },
  });
}

const SIGNATURES = create(SignatureDefMapSchema, {
  signatureDef: {
    serving_default: {
      methodName: 'tensorflow/serving/predict',
      inputs: { x: vectorInfo('x:0') },
      outputs: { y: vectorInfo('y:0') },
    },
  },
});

let server: Server;
let address: string;
let seenAuthorization: string[] = [];
let prediction: PromiseClient<(typeof PredictionService)['method']>;

function notFound(model: string): GrpcError {
  const trailers = new Metadata();
  trailers.set('x-model', model);
  return new GrpcError(status.NOT_FOUND, `Servable not found for request: Latest(${model})`, {
    metadata: trailers,
  });
}

beforeAll(async () => {
  server = new Server(DEFAULT_CHANNEL_OPTIONS);
  addUnaryService(server, PredictionService, {
    predict: async (request, call) => {
      seenAuthorization = call.metadata.get('authorization').map(String);
      const name = request.modelSpec?.name ?? '';
      if (name === 'slow') await new Promise((resolve) => setTimeout(resolve, 500));
      if (name !== 'half_plus_two' && name !== 'echo') throw notFound(name);
      const x = request.inputs.x;
      if (name === 'echo') {
        return {
          outputs: {
            y: create(TensorProtoSchema, { dtype: DataType.DT_UINT8, tensorContent: x?.tensorContent }),
          },
        };
      }
      const y = create(TensorProtoSchema, {
        dtype: DataType.DT_FLOAT,
        tensorShape: x?.tensorShape,
        floatVal: x?.floatVal.map((v) => v * 0.5 + 2),
      });
      const version = create(Int64ValueSchema, { value: 1n });
      return {
        modelSpec: {
          name,
          versionChoice: { case: 'version' as const, value: version },
          signatureName: 'serving_default',
        },
        outputs: { y },
      };
    },
    getModelMetadata: (request) => ({
      modelSpec: request.modelSpec,
      metadata: { signature_def: anyPack(SignatureDefMapSchema, SIGNATURES) },
    }),
  });
  addUnaryService(server, ModelService, {
    getModelStatus: () => ({
      modelVersionStatus: [
        { version: 1n, state: ModelVersionStatus_State.AVAILABLE, status: { errorMessage: '' } },
      ],
    }),
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    );
  });
  address = `127.0.0.1:${port}`;
  prediction = createPromiseClient(PredictionService, address, { bearerToken: 'default-token' });
});

afterAll(async () => {
  prediction?.close();
  await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
});

describe('PredictionService over loopback', () => {
  it('predicts, sending the bearer token as authorization metadata', async () => {
    const response = await prediction.predict({
      modelSpec: { name: 'half_plus_two' },
      inputs: {
        x: create(TensorProtoSchema, {
          dtype: DataType.DT_FLOAT,
          tensorShape: { dim: [{ size: 3n }] },
          floatVal: [0, 2, 10],
        }),
      },
    });
    expect(response.outputs.y?.floatVal).toEqual([2, 3, 7]);
    expect(response.modelSpec?.versionChoice.value).toMatchObject({ value: 1n });
    expect(seenAuthorization).toEqual(['Bearer default-token']);
  });

  it('lets a call override the client token', async () => {
    await prediction.predict(
      { modelSpec: { name: 'half_plus_two' }, inputs: { x: create(TensorProtoSchema) } },
      { bearerToken: 'per-call' },
    );
    expect(seenAuthorization).toEqual(['Bearer per-call']);
  });

  it('keeps the status code, message and trailing metadata of a refusal', async () => {
    const error = await prediction.predict({ modelSpec: { name: 'nope' } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GrpcError);
    const grpcError = error as GrpcError;
    expect(grpcError.code).toBe(status.NOT_FOUND);
    expect(grpcError.details).toBe('Servable not found for request: Latest(nope)');
    expect(grpcError.metadata.get('x-model')).toEqual(['nope']);
    expect(grpcError.method).toBe('/tensorflow.serving.PredictionService/Predict');
  });

  it('fails with DEADLINE_EXCEEDED when the deadline passes first', async () => {
    const error = await prediction
      .predict({ modelSpec: { name: 'slow' } }, { timeoutMs: 50 })
      .catch((e: unknown) => e);
    expect((error as GrpcError).code).toBe(status.DEADLINE_EXCEEDED);
  });

  it('cancels the call when its AbortSignal fires', async () => {
    const controller = new AbortController();
    const pending = prediction.predict({ modelSpec: { name: 'slow' } }, { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    const error = await pending.catch((e: unknown) => e);
    expect((error as GrpcError).code).toBe(status.CANCELLED);
  });

  it('carries messages far past grpc-js 4 MiB default limit both ways', async () => {
    const payload = new Uint8Array(6 * 1024 * 1024).map((_, i) => i & 0xff);
    const response = await prediction.predict({
      modelSpec: { name: 'echo' },
      inputs: { x: create(TensorProtoSchema, { dtype: DataType.DT_UINT8, tensorContent: payload }) },
    });
    expect(response.outputs.y?.tensorContent.byteLength).toBe(payload.byteLength);
    expect(Buffer.compare(response.outputs.y?.tensorContent ?? new Uint8Array(), payload)).toBe(0);
  });

  it('returns the signature map packed in an Any under the signature_def key', async () => {
    const response = await prediction.getModelMetadata({
      modelSpec: { name: 'half_plus_two' },
      metadataField: ['signature_def'],
    });
    const packed = response.metadata.signature_def;
    expect(packed?.typeUrl).toBe('type.googleapis.com/tensorflow.serving.SignatureDefMap');
    const signatures = packed && anyUnpack(packed, SignatureDefMapSchema);
    expect(signatures?.signatureDef.serving_default?.inputs.x?.encoding).toEqual({
      case: 'name',
      value: 'x:0',
    });
    expect(signatures?.signatureDef.serving_default?.methodName).toBe('tensorflow/serving/predict');
  });

  it('answers UNIMPLEMENTED for a method the server has no handler for', async () => {
    const error = await prediction
      .classify({ modelSpec: { name: 'half_plus_two' } })
      .catch((e: unknown) => e);
    expect((error as GrpcError).code).toBe(status.UNIMPLEMENTED);
  });
});

describe('ModelService over loopback', () => {
  it('reports the version status', async () => {
    const models = createPromiseClient(ModelService, address);
    try {
      const response = await models.getModelStatus(
        { modelSpec: { name: 'half_plus_two' } },
        { timeoutMs: 2000 },
      );
      expect(response.modelVersionStatus).toHaveLength(1);
      expect(response.modelVersionStatus[0]?.state).toBe(ModelVersionStatus_State.AVAILABLE);
    } finally {
      models.close();
    }
  });
});
