import { status } from '@grpc/grpc-js';
import {
  dataTypeString,
  decodeTensor,
  type ModelSpec,
  type PredictRequest,
  type SignatureDef,
  type Tensor,
  type TensorProto,
} from '@modelgate/proto';
import { ownValue } from '../own-value.js';
import type { Batcher } from './batcher.js';
import type { ServingMetrics } from './metrics.js';
import type { ServableManager, VersionRequest } from './servable-manager.js';
import { TfServingError } from './tf-serving-error.js';

/** The signature a request runs when it names none (kDefaultServingSignatureDefKey). */
export const DEFAULT_SIGNATURE_KEY = 'serving_default';

const PREDICT_METHODS = [
  'tensorflow/serving/predict',
  'tensorflow/serving/classify',
  'tensorflow/serving/regress',
] as const;

/** A finished Predict: the version that answered and the outputs, in alias order. */
export interface PredictOutcome {
  name: string;
  version: bigint;
  signatureName: string;
  outputs: [alias: string, tensor: Tensor][];
}

/** The version a ModelSpec asks for. */
export function versionRequestOf(spec: ModelSpec): VersionRequest {
  const { versionChoice } = spec;
  if (versionChoice.case === 'version') return { name: spec.name, version: versionChoice.value.value };
  if (versionChoice.case === 'versionLabel') return { name: spec.name, label: versionChoice.value };
  return { name: spec.name };
}

const sorted = (keys: Iterable<string>) => [...keys].sort();

/** predict_util.cc VerifyRequestInputsSize. */
function verifyInputsSize(signature: SignatureDef, inputs: Readonly<Record<string, TensorProto>>): void {
  const requested = sorted(Object.keys(inputs));
  const expected = sorted(Object.keys(signature.inputs));
  const hasDefaults = Object.keys(signature.defaults).length > 0;
  if (requested.length > expected.length || (requested.length < expected.length && !hasDefaults)) {
    const extra = requested.filter((alias) => !Object.hasOwn(signature.inputs, alias));
    const missing = expected.filter((alias) => !Object.hasOwn(inputs, alias));
    throw TfServingError.invalidArgument(
      `input size does not match signature: ${requested.length}!=${expected.length} len({${requested.join(',')}}) != len({${expected.join(',')}}). Sent extra: {${extra.join(',')}}. Missing but required: {${missing.join(',')}}.`,
    );
  }
}

/** cc/saved_model/util.cc GetInputValues: each signature input from the request or its default, parsed. */
function inputValues(
  signature: SignatureDef,
  inputs: Readonly<Record<string, TensorProto>>,
): Record<string, Tensor> {
  const values: Record<string, Tensor> = {};
  const seen = new Set<string>();
  for (const alias of sorted(Object.keys(signature.inputs))) {
    const info = signature.inputs[alias];
    const feedName = info?.encoding.case === 'name' ? info.encoding.value : '';
    let proto = ownValue(inputs, alias);
    if (proto) seen.add(alias);
    else proto = ownValue(signature.defaults, alias);
    if (!proto) {
      throw TfServingError.invalidArgument(
        `Signature input alias: ${alias}(feed name: ${feedName}) not found in request and no default value provided. Inputs expected to be in the request {${sorted(Object.keys(inputs)).join(',')}}, or default input alias set: ${sorted(Object.keys(signature.defaults)).join(',')}`,
      );
    }
    try {
      values[alias] = decodeTensor(proto, { name: alias });
    } catch (error) {
      throw new TfServingError(status.INVALID_ARGUMENT, `tensor parsing error: ${alias}`, { cause: error });
    }
  }
  const requested = Object.keys(inputs);
  if (requested.length > 0 && seen.size !== requested.length) {
    throw TfServingError.invalidArgument(
      `Inputs contains invalid name. Used request inputs: ${sorted(seen).join(',')}, request input: ${sorted(requested).join(',')}`,
    );
  }
  return values;
}

/** What TensorFlow's session says when a feed's dtype is not its placeholder's (FunctionCallFrame::SetArgs). */
function verifyDtypes(signature: SignatureDef, values: Readonly<Record<string, Tensor>>): void {
  const feeds = sorted(
    Object.values(signature.inputs).map((info) => (info.encoding.case === 'name' ? info.encoding.value : '')),
  );
  for (const [alias, tensor] of Object.entries(values)) {
    const info = signature.inputs[alias];
    if (!info || info.dtype === tensor.dtype) continue;
    const index = feeds.indexOf(info.encoding.case === 'name' ? info.encoding.value : '');
    throw TfServingError.invalidArgument(
      `Expects arg[${index}] to be ${dataTypeString(info.dtype)} but ${dataTypeString(tensor.dtype)} is provided`,
    );
  }
}

/** predict_util.cc PreProcessPrediction's output selection: the filter in its order, else every output. */
function outputAliases(signature: SignatureDef, filter: readonly string[]): string[] {
  if (filter.length === 0) return sorted(Object.keys(signature.outputs));
  const seen = new Set<string>();
  for (const alias of filter) {
    if (!Object.hasOwn(signature.outputs, alias)) {
      throw TfServingError.invalidArgument(
        `output tensor alias not found in signature: ${alias} Outputs expected to be in the set {${sorted(Object.keys(signature.outputs)).join(',')}}.`,
      );
    }
    if (seen.has(alias)) throw TfServingError.invalidArgument(`duplicate output tensor alias: ${alias}`);
    seen.add(alias);
  }
  return [...filter];
}

/** DirectSession::WaitForNotification's answer when RunOptions.timeout_in_ms passes. */
export const RUN_TIMEOUT_MESSAGE = 'Timed out waiting for notification';

/** The run, or DEADLINE_EXCEEDED once `timeoutMs` (> 0) has passed; the run itself is left to finish. */
async function withTimeout<T>(run: Promise<T>, timeoutMs: number | undefined): Promise<T> {
  if (timeoutMs === undefined || !(timeoutMs > 0) || !Number.isFinite(timeoutMs)) return run;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new TfServingError(status.DEADLINE_EXCEEDED, RUN_TIMEOUT_MESSAGE)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([run, timeout]);
  } finally {
    clearTimeout(timer);
    run.catch(() => undefined);
  }
}

export interface PredictorOptions {
  manager: ServableManager;
  metrics: ServingMetrics;
  /** Present when --enable_batching is on. */
  batcher?: Batcher;
  /** --enable_signature_method_name_check */
  enableSignatureMethodNameCheck: boolean;
}

/**
 * Predict as TF Serving runs it for gRPC and REST alike (servables/tensorflow/predict_impl.cc and
 * predict_util.cc): model spec, servable lookup, signature, input count, input values, dtypes, output filter,
 * then the run (through the batcher when batching is on), with the real messages at each step.
 */
export class Predictor {
  constructor(private readonly options: PredictorOptions) {}

  /**
   * `timeoutMs` is the run's RunOptions.timeout_in_ms: the gRPC deadline (prediction_service_impl.cc, as
   * enforce_session_run_timeout is on) or --rest_api_timeout_in_ms (http_rest_api_handler.cc); past it the
   * answer is DEADLINE_EXCEEDED, as DirectSession gives it.
   */
  async predict(request: PredictRequest, options: { timeoutMs?: number } = {}): Promise<PredictOutcome> {
    const spec = request.modelSpec;
    if (!spec) throw TfServingError.invalidArgument('Missing ModelSpec');
    const handle = this.options.manager.handle(versionRequestOf(spec));
    const signatureName = spec.signatureName === '' ? DEFAULT_SIGNATURE_KEY : spec.signatureName;
    const signature = ownValue(handle.servable.signatures, signatureName);
    if (!signature)
      throw TfServingError.failedPrecondition(`Serving signature key "${signatureName}" not found.`);
    if (
      this.options.enableSignatureMethodNameCheck &&
      !(PREDICT_METHODS as readonly string[]).includes(signature.methodName)
    ) {
      throw TfServingError.internal(
        `Expected prediction signature method_name to be one of {${PREDICT_METHODS.join(', ')}}. Was: ${signature.methodName}`,
      );
    }
    verifyInputsSize(signature, request.inputs);
    const inputs = inputValues(signature, request.inputs);
    const aliases = outputAliases(signature, request.outputFilter);
    verifyDtypes(signature, inputs);
    const started = performance.now();
    const { batcher } = this.options;
    const run = batcher
      ? batcher.submit(
          `${handle.name}\u0000${handle.version}\u0000${signatureName}\u0000${sorted(Object.keys(inputs)).join(',')}\u0000${aliases.join(',')}`,
          handle.servable,
          signatureName,
          inputs,
          aliases,
        )
      : handle.servable.run(signatureName, inputs, aliases);
    const outputs = await withTimeout(run, options.timeoutMs);
    this.options.metrics.recordRuntimeLatency(spec.name, 'Predict', (performance.now() - started) * 1000);
    return {
      name: spec.name,
      version: handle.version,
      signatureName,
      outputs: aliases.map((alias) => [alias, outputs[alias] as Tensor]),
    };
  }
}
