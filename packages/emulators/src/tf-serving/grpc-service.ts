import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { anyPack } from '@bufbuild/protobuf/wkt';
import { type Server, status } from '@grpc/grpc-js';
import {
  addUnaryService,
  Code,
  encodeTensor,
  type ModelServerConfig,
  ModelServerConfigSchema,
  ModelService,
  PredictionService,
  type ReloadConfigRequest,
  type ReloadConfigResponseSchema,
  SignatureDefMapSchema,
} from '@modelgate/proto';
import type { Inference } from './inference.js';
import type { ServingMetrics } from './metrics.js';
import { modelMetadata, modelStatus, SIGNATURE_DEF_FIELD } from './model-info.js';
import type { Predictor } from './predict.js';
import type { ServableManager } from './servable-manager.js';
import type { ServerLog } from './server-log.js';
import { asTfServingError, TfServingError } from './tf-serving-error.js';

export interface GrpcServiceOptions {
  manager: ServableManager;
  predictor: Predictor;
  inference: Inference;
  metrics: ServingMetrics;
  /** --enable_serialization_as_tensor_content: outputs in tensor_content rather than the *_val fields. */
  tensorContent: boolean;
  /** ServerCore::ReloadConfig, behind HandleReloadConfigRequest; without it that method is UNIMPLEMENTED. */
  reloadConfig?: (config: ModelServerConfig) => Promise<void>;
  log?: ServerLog;
}

const MODEL_SERVICE = 'tensorflow_serving/model_servers/model_service_impl.cc';

/** DeadlineToTimeoutMillis: what is left of the client's deadline; undefined when it set none. */
function remainingMs(deadline: Date | number): number | undefined {
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  if (!Number.isFinite(at)) return undefined;
  return Math.max(at - Date.now(), 1);
}

/**
 * ModelServiceImpl::HandleReloadConfigRequest: a ModelConfigList is applied (its entries logged), anything else
 * is INVALID_ARGUMENT; the answer carries the status, and each metric asked for with its increase (0 here:
 * the emulator keeps none of TensorFlow's monitoring counters, which the real server also reports as 0
 * when it does not know them).
 */
async function handleReloadConfig(
  options: GrpcServiceOptions,
  request: ReloadConfigRequest,
): Promise<MessageInitShape<typeof ReloadConfigResponseSchema>> {
  const { reloadConfig, log } = options;
  if (!reloadConfig) return notImplemented('HandleReloadConfigRequest')();
  const config = request.config ?? create(ModelServerConfigSchema);
  let failure: TfServingError | undefined;
  if (config.config.case === 'modelConfigList') {
    config.config.value.config.forEach((entry, index) => {
      log?.info(
        `${MODEL_SERVICE}:57`,
        `\nConfig entry\n\tindex : ${index}\n\tpath : ${entry.basePath}\n\tname : ${entry.name}\n\tplatform : ${entry.modelPlatform}`,
      );
    });
    failure = await reloadConfig(config).then(
      () => undefined,
      (error: unknown) => asTfServingError(error),
    );
  } else {
    failure = TfServingError.invalidArgument(
      'ServerModelConfig type not supported by HandleReloadConfigRequest. Only ModelConfigList is currently supported',
    );
  }
  if (failure) {
    log?.error(`${MODEL_SERVICE}:73`, `ReloadConfig failed: ${failure.message}`);
    throw failure;
  }
  return {
    status: { errorCode: Code.OK, errorMessage: '' },
    metric: request.metricNames.map((name) => ({
      name,
      valueIncrease: { case: 'int64ValueIncrease', value: 0n },
    })),
  };
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
 * GetModelStatus, Classify, Regress and MultiInference, HandleReloadConfigRequest, with TF Serving's codes and
 * messages.
 */
export function addTfServingServices(server: Server, options: GrpcServiceOptions): void {
  const { manager, predictor, inference, metrics, tensorContent } = options;
  const form = tensorContent ? 'content' : 'repeated';
  addUnaryService(server, PredictionService, {
    predict: (request, call) =>
      counted(metrics, request.modelSpec?.name ?? '', 'Predict', async () => {
        const outcome = await predictor.predict(request, { timeoutMs: remainingMs(call.getDeadline()) });
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
      counted(metrics, request.modelSpec?.name ?? '', 'Classify', () => inference.classify(request)),
    regress: (request) =>
      counted(metrics, request.modelSpec?.name ?? '', 'Regress', () => inference.regress(request)),
    multiInference: (request) => answer(() => inference.multiInference(request)),
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
    handleReloadConfigRequest: (request) => answer(() => handleReloadConfig(options, request)),
  });
}
