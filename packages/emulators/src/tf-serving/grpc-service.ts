import { create } from '@bufbuild/protobuf';
import { anyPack } from '@bufbuild/protobuf/wkt';
import { type Server, status } from '@grpc/grpc-js';
import {
  addUnaryService,
  type Code,
  encodeTensor,
  ModelService,
  PredictionService,
  SignatureDefMapSchema,
} from '@modelgate/proto';
import type { ServingMetrics } from './metrics.js';
import { modelMetadata, modelStatus, SIGNATURE_DEF_FIELD } from './model-info.js';
import type { Predictor } from './predict.js';
import type { ServableManager } from './servable-manager.js';
import { asTfServingError, TfServingError } from './tf-serving-error.js';

export interface GrpcServiceOptions {
  manager: ServableManager;
  predictor: Predictor;
  metrics: ServingMetrics;
  /** --enable_serialization_as_tensor_content: outputs in tensor_content rather than the *_val fields. */
  tensorContent: boolean;
}

/** Runs a handler, turning its TfServingError into the gRPC status TF Serving sends (message truncated). */
async function answer<T>(work: () => Promise<T> | T): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw asTfServingError(error).toGrpcError();
  }
}

/** A model request the real server counts in request_count (Predict, Classify, Regress). */
async function counted<T>(
  metrics: ServingMetrics,
  modelName: string,
  api: string,
  work: () => Promise<T>,
): Promise<T> {
  const started = performance.now();
  try {
    const result = await work();
    metrics.recordRequestLatency(modelName, api, 'GRPC', (performance.now() - started) * 1000);
    metrics.recordRequest(modelName, status.OK);
    return result;
  } catch (error) {
    const failure = asTfServingError(error);
    metrics.recordRequest(modelName, failure.code);
    throw failure.toGrpcError();
  }
}

const notImplemented = (method: string) => (): Promise<never> =>
  Promise.reject(
    TfServingError.unimplemented(`${method} is not implemented by the modelgate TF Serving emulator`),
  );

/**
 * tensorflow.serving.PredictionService and ModelService on a grpc-js server: Predict, GetModelMetadata and
 * GetModelStatus with TF Serving's codes and messages; Classify, Regress, MultiInference and
 * HandleReloadConfigRequest answer UNIMPLEMENTED.
 */
export function addTfServingServices(server: Server, options: GrpcServiceOptions): void {
  const { manager, predictor, metrics, tensorContent } = options;
  const form = tensorContent ? 'content' : 'repeated';
  addUnaryService(server, PredictionService, {
    predict: (request) =>
      counted(metrics, request.modelSpec?.name ?? '', 'Predict', async () => {
        const outcome = await predictor.predict(request);
        return {
          modelSpec: {
            name: outcome.name,
            versionChoice: { case: 'version', value: { value: outcome.version } },
            signatureName: outcome.signatureName,
          },
          outputs: Object.fromEntries(
            outcome.outputs.map(([alias, tensor]) => [alias, encodeTensor(tensor, { form, name: alias })]),
          ),
        };
      }),
    getModelMetadata: (request) =>
      answer(() => {
        const metadata = modelMetadata(manager, request.modelSpec, request.metadataField);
        const signatureDefMap = create(SignatureDefMapSchema, { signatureDef: { ...metadata.signatures } });
        return {
          modelSpec: {
            name: metadata.name,
            versionChoice: { case: 'version', value: { value: metadata.version } },
          },
          metadata: { [SIGNATURE_DEF_FIELD]: anyPack(SignatureDefMapSchema, signatureDefMap) },
        };
      }),
    classify: (request) =>
      counted(metrics, request.modelSpec?.name ?? '', 'Classify', notImplemented('Classify')),
    regress: (request) =>
      counted(metrics, request.modelSpec?.name ?? '', 'Regress', notImplemented('Regress')),
    multiInference: () => answer(notImplemented('MultiInference')),
  });
  addUnaryService(server, ModelService, {
    getModelStatus: (request) =>
      answer(() => ({
        modelVersionStatus: modelStatus(manager, request.modelSpec).map((status) => ({
          version: status.version,
          state: status.state,
          // grpc status codes and tensorflow.error.Code share their numbers.
          status: { errorCode: status.errorCode as number as Code, errorMessage: status.errorMessage },
        })),
      })),
    handleReloadConfigRequest: () => answer(notImplemented('HandleReloadConfigRequest')),
  });
}
