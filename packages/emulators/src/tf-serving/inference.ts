import { type MessageInitShape, toBinary } from '@bufbuild/protobuf';
import {
  type ClassificationRequest,
  type ClassificationResultSchema,
  DataType,
  ExampleSchema,
  type Input,
  type ModelSpec,
  type MultiInferenceRequest,
  type MultiInferenceResponseSchema,
  type RegressionRequest,
  type RegressionResultSchema,
  type SignatureDef,
  type Tensor,
  type TensorInfo,
} from '@modelgate/proto';
import { ownValue } from '../own-value.js';
import type { ServingMetrics } from './metrics.js';
import { DEFAULT_SIGNATURE_KEY, versionRequestOf } from './predict.js';
import type { ServableHandle, ServableManager } from './servable-manager.js';
import { TfServingError } from './tf-serving-error.js';

// Classify, Regress and MultiInference as TF Serving runs them on tf.Example inputs
// (servables/tensorflow/classifier.cc, regressor.cc, multi_inference.cc, util.cc): the signature's one input
// gets the serialized examples (context bytes first, for example_list_with_context), and the outputs are
// checked and turned into results with the real messages.

export const CLASSIFY_METHOD = 'tensorflow/serving/classify';
export const REGRESS_METHOD = 'tensorflow/serving/regress';
const CLASSIFY_INPUTS = 'inputs';
const CLASSIFY_CLASSES = 'classes';
const CLASSIFY_SCORES = 'scores';
const REGRESS_INPUTS = 'inputs';
const REGRESS_OUTPUTS = 'outputs';

const invalid = (message: string) => TfServingError.invalidArgument(message);
const utf8 = new TextDecoder();

type ClassificationResultInit = MessageInitShape<typeof ClassificationResultSchema>;
type RegressionResultInit = MessageInitShape<typeof RegressionResultSchema>;

/** A SignatureDef as C++ DebugString prints it (text format, map entries by key), for the real messages. */
export function signatureDebugString(signature: SignatureDef): string {
  const lines: string[] = [];
  const tensorInfo = (info: TensorInfo, indent: string) => {
    if (info.encoding.case === 'name') lines.push(`${indent}name: ${JSON.stringify(info.encoding.value)}`);
    if (info.dtype !== DataType.DT_INVALID) lines.push(`${indent}dtype: ${DataType[info.dtype]}`);
    const shape = info.tensorShape;
    if (!shape) return;
    lines.push(`${indent}tensor_shape {`);
    for (const dim of shape.dim) {
      lines.push(`${indent}  dim {`);
      if (dim.size !== 0n) lines.push(`${indent}    size: ${dim.size}`);
      if (dim.name !== '') lines.push(`${indent}    name: ${JSON.stringify(dim.name)}`);
      lines.push(`${indent}  }`);
    }
    if (shape.unknownRank) lines.push(`${indent}  unknown_rank: true`);
    lines.push(`${indent}}`);
  };
  for (const field of ['inputs', 'outputs'] as const) {
    for (const key of Object.keys(signature[field]).sort()) {
      lines.push(`${field} {`, `  key: ${JSON.stringify(key)}`, '  value {');
      tensorInfo(signature[field][key] as TensorInfo, '    ');
      lines.push('  }', '}');
    }
  }
  if (signature.methodName !== '') lines.push(`method_name: ${JSON.stringify(signature.methodName)}`);
  return `${lines.join('\n')}\n`;
}

/** util.cc InputToSerializedExampleTensor: one serialized tf.Example per entry, context bytes in front. */
export function serializedExamples(input: Input | undefined): Tensor {
  const kind = input?.kind;
  let values: Uint8Array[] = [];
  if (kind?.case === 'exampleList') {
    values = kind.value.examples.map((example) => toBinary(ExampleSchema, example));
  } else if (kind?.case === 'exampleListWithContext') {
    const context = kind.value.context ? toBinary(ExampleSchema, kind.value.context) : new Uint8Array(0);
    values = kind.value.examples.map((example) => {
      const bytes = toBinary(ExampleSchema, example);
      const merged = new Uint8Array(context.length + bytes.length);
      merged.set(context);
      merged.set(bytes, context.length);
      return merged;
    });
  }
  if (values.length === 0) throw invalid('Input is empty.');
  return { dtype: DataType.DT_STRING, shape: [values.length], values };
}

/** classifier.cc PreProcessClassification: the input alias and the outputs to fetch. */
function classificationOutputs(signature: SignatureDef, methodCheck: boolean): string[] {
  if (methodCheck && signature.methodName !== CLASSIFY_METHOD) {
    throw invalid(
      `Expected classification signature method_name to be ${CLASSIFY_METHOD}. Was: ${signature.methodName}`,
    );
  }
  const outputs = Object.keys(signature.outputs);
  if (Object.keys(signature.inputs).length !== 1) throw invalid('Expected one input Tensor.');
  if (outputs.length !== 1 && outputs.length !== 2) {
    throw invalid(`Expected one or two output Tensors, found ${outputs.length}`);
  }
  if (!(CLASSIFY_INPUTS in signature.inputs)) {
    throw invalid(`No classification inputs found in SignatureDef: ${signatureDebugString(signature)}`);
  }
  const fetched = [CLASSIFY_CLASSES, CLASSIFY_SCORES].filter((alias) => alias in signature.outputs);
  if (fetched.length === 0) {
    throw invalid(
      `Expected classification signature outputs to contain at least one of "${CLASSIFY_CLASSES}" or "${CLASSIFY_SCORES}". Signature was: ${signatureDebugString(signature)}`,
    );
  }
  return fetched;
}

/** regressor.cc PreProcessRegression. */
function regressionOutputs(signature: SignatureDef, methodCheck: boolean): string[] {
  if (methodCheck && signature.methodName !== REGRESS_METHOD) {
    throw invalid(
      `Expected regression signature method_name to be ${REGRESS_METHOD}. Was: ${signature.methodName}`,
    );
  }
  if (Object.keys(signature.inputs).length !== 1) throw invalid('Expected one input Tensor.');
  if (Object.keys(signature.outputs).length !== 1) throw invalid('Expected one output Tensor.');
  if (!(REGRESS_INPUTS in signature.inputs)) {
    throw invalid(`No regression inputs found in SignatureDef: ${signatureDebugString(signature)}`);
  }
  if (!(REGRESS_OUTPUTS in signature.outputs)) {
    throw invalid(`No regression outputs found in SignatureDef: ${signatureDebugString(signature)}`);
  }
  return [REGRESS_OUTPUTS];
}

const shapeString = (shape: readonly number[]) => `[${shape.join(',')}]`;

/** classifier.cc PostProcessClassificationResult. */
function classificationResult(outputs: Record<string, Tensor>, examples: number): ClassificationResultInit {
  const classes = outputs[CLASSIFY_CLASSES];
  const scores = outputs[CLASSIFY_SCORES];
  for (const [tensor, dtype, name] of [
    [classes, DataType.DT_STRING, 'classes'],
    [scores, DataType.DT_FLOAT, 'scores'],
  ] as const) {
    if (!tensor) continue;
    if (tensor.shape.length !== 2) {
      throw invalid(`Expected Tensor shape: [batch_size num_classes] but got ${shapeString(tensor.shape)}`);
    }
    if (tensor.dtype !== dtype) {
      throw invalid(`Expected ${name} Tensor of ${DataType[dtype]}. Got: ${DataType[tensor.dtype]}`);
    }
    if (tensor.shape[0] !== examples) {
      throw invalid(`Expected ${name} output batch size of ${examples}. Got: ${tensor.shape[0]}`);
    }
  }
  if (classes && scores && classes.shape[1] !== scores.shape[1]) {
    throw invalid(
      `Tensors class and score should match in dim_size(1). Got ${classes.shape[1]} vs. ${scores.shape[1]}`,
    );
  }
  const count = (classes ?? scores)?.shape[1] ?? 0;
  return {
    classifications: Array.from({ length: examples }, (_, i) => ({
      classes: Array.from({ length: count }, (_, c) => ({
        ...(classes ? { label: utf8.decode((classes.values as Uint8Array[])[i * count + c]) } : {}),
        ...(scores ? { score: (scores.values as Float32Array)[i * count + c] as number } : {}),
      })),
    })),
  };
}

/** regressor.cc PostProcessRegressionResult. */
function regressionResult(outputs: Record<string, Tensor>, examples: number): RegressionResultInit {
  const tensor = outputs[REGRESS_OUTPUTS];
  if (!tensor) throw invalid(`Could not find output tensor '${REGRESS_OUTPUTS}'`);
  const { shape } = tensor;
  if (!(shape.length === 1 || (shape.length === 2 && shape[1] === 1))) {
    throw invalid(
      `Expected output Tensor shape to be either [batch_size] or [batch_size, 1] but got ${shapeString(shape)}`,
    );
  }
  if (shape[0] !== examples) {
    throw invalid(`Input batch size did not match output batch size: ${examples} vs. ${shape[0]}`);
  }
  if (tensor.dtype !== DataType.DT_FLOAT) {
    throw invalid(`Expected output Tensor of DT_FLOAT.  Got: ${DataType[tensor.dtype]}`);
  }
  return { regressions: Array.from(tensor.values as Float32Array, (value) => ({ value })) };
}

export interface InferenceOptions {
  manager: ServableManager;
  metrics: ServingMetrics;
  /** --enable_signature_method_name_check */
  enableSignatureMethodNameCheck: boolean;
}

/** The ModelSpec of an answer (util.cc MakeModelSpec): the signature name as asked, defaulted. */
function answerSpec(handle: ServableHandle, signatureName: string) {
  return {
    name: handle.name,
    signatureName: signatureName === '' ? DEFAULT_SIGNATURE_KEY : signatureName,
    versionChoice: { case: 'version' as const, value: { value: handle.version } },
  };
}

/** Classify, Regress and MultiInference over the servables of a ServableManager. */
export class Inference {
  constructor(private readonly options: InferenceOptions) {}

  private lookup(spec: ModelSpec | undefined): ServableHandle {
    if (!spec) throw invalid('Missing ModelSpec');
    return this.options.manager.handle(versionRequestOf(spec));
  }

  /** classifier.cc GetClassificationSignatureDef / regressor.cc GetRegressionSignatureDef. */
  private signature(handle: ServableHandle, signatureName: string): SignatureDef {
    const key = signatureName === '' ? DEFAULT_SIGNATURE_KEY : signatureName;
    const signature = ownValue(handle.servable.signatures, key);
    if (!signature) throw invalid(`No signature was found with the name: ${key}`);
    return signature;
  }

  private async run(
    handle: ServableHandle,
    signatureName: string,
    examples: Tensor,
    aliases: string[],
    api: string,
  ): Promise<Record<string, Tensor>> {
    const key = signatureName === '' ? DEFAULT_SIGNATURE_KEY : signatureName;
    const started = performance.now();
    const outputs = await handle.servable.run(key, { [CLASSIFY_INPUTS]: examples }, aliases);
    this.options.metrics.recordRuntimeLatency(handle.name, api, (performance.now() - started) * 1000);
    return outputs;
  }

  async classify(request: ClassificationRequest) {
    const handle = this.lookup(request.modelSpec);
    const signatureName = request.modelSpec?.signatureName ?? '';
    const signature = this.signature(handle, signatureName);
    const aliases = classificationOutputs(signature, this.options.enableSignatureMethodNameCheck);
    const examples = serializedExamples(request.input);
    const outputs = await this.run(handle, signatureName, examples, aliases, 'Classify');
    return {
      modelSpec: answerSpec(handle, signatureName),
      result: classificationResult(outputs, examples.shape[0] as number),
    };
  }

  async regress(request: RegressionRequest) {
    const handle = this.lookup(request.modelSpec);
    const signatureName = request.modelSpec?.signatureName ?? '';
    const signature = this.signature(handle, signatureName);
    const aliases = regressionOutputs(signature, this.options.enableSignatureMethodNameCheck);
    const examples = serializedExamples(request.input);
    const outputs = await this.run(handle, signatureName, examples, aliases, 'Regress');
    return {
      modelSpec: answerSpec(handle, signatureName),
      result: regressionResult(outputs, examples.shape[0] as number),
    };
  }

  /** multi_inference.cc: every task on one model, each signature once, one run for all. */
  async multiInference(
    request: MultiInferenceRequest,
  ): Promise<MessageInitShape<typeof MultiInferenceResponseSchema>> {
    // multi_inference_helper.cc: the first task's ModelSpec, or an empty one (ModelSpec has no name specified.).
    const first = request.tasks[0]?.modelSpec;
    const handle = this.options.manager.handle(first ? versionRequestOf(first) : { name: '' });
    let modelName = '';
    const seen = new Set<string>();
    const plans: { signatureName: string; method: string; aliases: string[] }[] = [];
    for (const task of request.tasks) {
      const spec = task.modelSpec;
      if (!spec || spec.name === '') throw invalid('Found ModelSpec with an empty model name.');
      if (modelName === '') modelName = spec.name;
      else if (modelName !== spec.name) {
        throw invalid('All ModelSpecs in a MultiInferenceRequest must access the same model name.');
      }
      const key = spec.signatureName === '' ? DEFAULT_SIGNATURE_KEY : spec.signatureName;
      if (seen.has(key)) throw invalid(`Duplicate evaluation of signature: ${key}`);
      seen.add(key);
      const signature = ownValue(handle.servable.signatures, key);
      if (!signature) throw invalid(`Requested signature not found in model graph: ${key}`);
      if (task.methodName === CLASSIFY_METHOD) {
        plans.push({
          signatureName: key,
          method: task.methodName,
          aliases: classificationOutputs(signature, false),
        });
      } else if (task.methodName === REGRESS_METHOD) {
        plans.push({
          signatureName: key,
          method: task.methodName,
          aliases: regressionOutputs(signature, false),
        });
      } else {
        throw TfServingError.unimplemented(`Unsupported signature method_name: ${task.methodName}`);
      }
    }
    const examples = serializedExamples(request.input);
    const count = examples.shape[0] as number;
    const results = [];
    for (const plan of plans) {
      const outputs = await this.run(handle, plan.signatureName, examples, plan.aliases, 'MultiInference');
      const spec = { ...answerSpec(handle, plan.signatureName) };
      results.push(
        plan.method === CLASSIFY_METHOD
          ? {
              modelSpec: spec,
              result: { case: 'classificationResult' as const, value: classificationResult(outputs, count) },
            }
          : {
              modelSpec: spec,
              result: { case: 'regressionResult' as const, value: regressionResult(outputs, count) },
            },
      );
    }
    return { results };
  }
}
