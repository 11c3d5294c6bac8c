import { DataType, isSupportedDataType, type SignatureDef, type Tensor } from '@modelgate/proto';
import { fromTfTensor, toTfTensor } from '@modelgate/proto/tfjs';
import type * as tfCore from '@tensorflow/tfjs-core';
import type { LoadedServable, ModelRunner, ServableSource } from './model-runner.js';
import { TfServingError } from './tf-serving-error.js';
import { denseTensorName, type TfjsCore } from './tfjs-graph-runner.js';

/**
 * The part of tfjs-node's TFSavedModel this runner uses, typed structurally so that this file builds without
 * tfjs-node installed. `loadSavedModel(path, tags, signature)` is tfjs-node's `tf.node.loadSavedModel`: it loads
 * the SavedModel into TensorFlow's C library (variables, functions and every TensorFlow op included), bound to
 * one signature, and `predict` runs it.
 */
export interface TfjsNodeSavedModel {
  predict(
    inputs: Record<string, tfCore.Tensor>,
  ): tfCore.Tensor | tfCore.Tensor[] | Record<string, tfCore.Tensor>;
  dispose(): void;
}

export type LoadSavedModel = (
  path: string,
  tags?: string[],
  signature?: string,
) => Promise<TfjsNodeSavedModel>;

function outputsByAlias(
  result: ReturnType<TfjsNodeSavedModel['predict']>,
  signature: SignatureDef,
): Record<string, tfCore.Tensor> {
  const aliases = Object.keys(signature.outputs);
  if (Array.isArray(result))
    return Object.fromEntries(aliases.map((alias, i) => [alias, result[i] as tfCore.Tensor]));
  if ('dataSync' in result && typeof result.dataSync === 'function') {
    return { [aliases[0] as string]: result as tfCore.Tensor };
  }
  return result as Record<string, tfCore.Tensor>;
}

/**
 * tfjs-node 4.22's TFSavedModel internals (dist/saved_model.js, nodejs_kernel_backend.js), used to feed int64
 * inputs whole: its `predict` takes them through tfjs's int32 and so refuses or changes anything wider, while
 * its binding takes an int64 tensor as an Int32Array of little-endian halves.
 */
interface TfjsNodeSession {
  sessionId: number;
  signature: { inputs: Record<string, { name: string; tfDtype: string }> };
  outputNodeNames: Record<string, string>;
  backend: {
    binding: {
      TF_INT64: number;
      TF_UINT8: number;
      createTensor(shape: number[], dtype: number, values: Int32Array | Uint8Array): number;
      deleteTensor(id: number): void;
      runSavedModel(session: number, inputs: number[], inputNames: string, outputNames: string): unknown[];
    };
    getInputTensorIds(tensors: tfCore.Tensor[]): number[];
    createOutputTensor(metadata: unknown): tfCore.Tensor;
  };
}

function sessionOf(model: TfjsNodeSavedModel): TfjsNodeSession | undefined {
  const session = model as unknown as Partial<TfjsNodeSession>;
  const binding = session.backend?.binding;
  if (typeof session.sessionId !== 'number' || !session.signature || !session.outputNodeNames)
    return undefined;
  if (typeof binding?.runSavedModel !== 'function' || typeof binding.createTensor !== 'function')
    return undefined;
  return session as TfjsNodeSession;
}

/** Runs the session as TFSavedModel.predict does, but with int64 inputs fed as int64. */
function runWithInt64(
  tf: TfjsCore,
  session: TfjsNodeSession,
  inputs: Readonly<Record<string, Tensor>>,
): Record<string, tfCore.Tensor> {
  const { binding } = session.backend;
  const aliases = Object.keys(session.signature.inputs);
  const created: number[] = [];
  const converted: tfCore.Tensor[] = [];
  try {
    const ids = aliases.map((alias) => {
      const tensor = inputs[alias];
      if (!tensor) throw TfServingError.internal(`no value for input ${alias}`);
      if (tensor.dtype === DataType.DT_INT64) {
        const halves = new Int32Array(BigInt64Array.from(tensor.values).buffer);
        const id = binding.createTensor(tensor.shape, binding.TF_INT64, halves);
        created.push(id);
        return id;
      }
      const value = toTfTensor(tensor, alias);
      converted.push(value);
      if (session.signature.inputs[alias]?.tfDtype === 'DT_UINT8') {
        const id = binding.createTensor(tensor.shape, binding.TF_UINT8, Uint8Array.from(value.dataSync()));
        created.push(id);
        return id;
      }
      return session.backend.getInputTensorIds([value])[0] as number;
    });
    const outputAliases = Object.keys(session.outputNodeNames);
    const metadata = binding.runSavedModel(
      session.sessionId,
      ids,
      aliases.map((alias) => session.signature.inputs[alias]?.name).join(','),
      outputAliases.map((alias) => session.outputNodeNames[alias]).join(','),
    );
    return Object.fromEntries(
      outputAliases.map((alias, i) => [alias, session.backend.createOutputTensor(metadata[i])]),
    );
  } finally {
    for (const id of created) binding.deleteTensor(id);
    tf.dispose(converted);
  }
}

class TfjsNodeServable implements LoadedServable {
  constructor(
    private readonly tf: TfjsCore,
    private readonly models: ReadonlyMap<string, TfjsNodeSavedModel>,
    readonly signatures: Readonly<Record<string, SignatureDef>>,
  ) {}

  async run(
    signatureKey: string,
    inputs: Readonly<Record<string, Tensor>>,
    outputAliases: readonly string[],
  ): Promise<Record<string, Tensor>> {
    const model = this.models.get(signatureKey);
    const signature = this.signatures[signatureKey];
    if (!model || !signature) {
      throw TfServingError.failedPrecondition(`Serving signature key "${signatureKey}" not found.`);
    }
    const session = Object.values(inputs).some((tensor) => tensor.dtype === DataType.DT_INT64)
      ? sessionOf(model)
      : undefined;
    const feeds = session
      ? {}
      : Object.fromEntries(
          Object.entries(inputs).map(([alias, tensor]) => [alias, toTfTensor(tensor, alias)]),
        );
    let outputs: Record<string, tfCore.Tensor> = {};
    try {
      outputs = session
        ? runWithInt64(this.tf, session, inputs)
        : outputsByAlias(model.predict(feeds), signature);
      return Object.fromEntries(
        outputAliases.map((alias) => {
          const output = outputs[alias];
          if (!output) throw TfServingError.internal(`tfjs-node returned no output ${alias}`);
          const dtype = signature.outputs[alias]?.dtype ?? DataType.DT_INVALID;
          return [alias, fromTfTensor(output, isSupportedDataType(dtype) ? dtype : undefined, alias)];
        }),
      );
    } catch (error) {
      if (error instanceof TfServingError) throw error;
      throw TfServingError.invalidArgument(error instanceof Error ? error.message : String(error));
    } finally {
      this.tf.dispose([...Object.values(feeds), ...Object.values(outputs)]);
    }
  }

  dispose(): void {
    for (const model of this.models.values()) model.dispose();
  }
}

/** The dtypes tfjs-node 4.22's binding can feed and fetch (saved_model.ts mapTFDtypeToJSDtype). */
const TFJS_NODE_DTYPES: ReadonlySet<DataType> = new Set([
  DataType.DT_FLOAT,
  DataType.DT_INT32,
  DataType.DT_INT64,
  DataType.DT_UINT8,
  DataType.DT_BOOL,
  DataType.DT_STRING,
]);

/** A signature tensor tfjs-node cannot carry is refused at start, never on each request. */
function refuseUnsupportedDtypes(
  exportDir: string,
  signatures: Readonly<Record<string, SignatureDef>>,
): void {
  for (const [key, signature] of Object.entries(signatures)) {
    const tensors = [
      ...Object.entries(signature.inputs).map(([alias, info]) => ['input', alias, info] as const),
      ...Object.entries(signature.outputs).map(([alias, info]) => ['output', alias, info] as const),
    ];
    for (const [kind, alias, info] of tensors) {
      if (denseTensorName(info) === undefined || TFJS_NODE_DTYPES.has(info.dtype)) continue;
      throw TfServingError.unimplemented(
        `The SavedModel at ${exportDir} cannot run on tfjs-node: ${kind} ${alias} of signature ${key} is ${DataType[info.dtype]}, which tfjs-node's binding cannot carry`,
      );
    }
  }
}

/**
 * Runs SavedModels through tfjs-node (TensorFlow's C library): the seam for the native backend. Loads one
 * tfjs-node model per runnable signature (tfjs-node binds a signature at load time and shares the session).
 * Not exercised by this package's tests, which run without tfjs-node; see README.
 */
export class TfjsNodeSavedModelRunner implements ModelRunner {
  readonly backend = 'tensorflow' as const;
  readonly description: string;

  constructor(
    private readonly tf: TfjsCore,
    private readonly loadSavedModel: LoadSavedModel,
  ) {
    this.description = `tfjs-node ${tf.version_core} (TensorFlow C library)`;
  }

  async load(source: ServableSource): Promise<LoadedServable> {
    const { exportDir, metaGraph, tags } = source;
    refuseUnsupportedDtypes(exportDir, metaGraph.signatureDef);
    const models = new Map<string, TfjsNodeSavedModel>();
    try {
      for (const [key, signature] of Object.entries(metaGraph.signatureDef)) {
        const dense = [...Object.values(signature.inputs), ...Object.values(signature.outputs)].every(
          (info) => denseTensorName(info) !== undefined,
        );
        if (dense) models.set(key, await this.loadSavedModel(exportDir, [...tags], key));
      }
    } catch (error) {
      for (const model of models.values()) model.dispose();
      const reason = error instanceof Error ? error.message : String(error);
      throw TfServingError.invalidArgument(
        `tfjs-node could not load the SavedModel at ${exportDir}: ${reason}`,
      );
    }
    return new TfjsNodeServable(this.tf, models, metaGraph.signatureDef);
  }
}
