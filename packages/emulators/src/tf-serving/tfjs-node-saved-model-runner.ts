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

/** A tensor the binding returns: its id in TensorFlow's eager context, shape and TF_DataType. */
interface OutputMetadata {
  id: number;
  shape: number[];
  dtype: number;
}

type BindingValues = Float32Array | Int32Array | Uint8Array | BigInt64Array | Uint8Array[];

/**
 * tfjs-node 4.22's TFSavedModel internals (dist/saved_model.js, nodejs_kernel_backend.js, binding/tfjs_backend.cc).
 * The emulator runs the session through them rather than through `predict`: inputs go from the request's typed
 * arrays straight into TensorFlow tensors and outputs straight back, with no tfjs tensor in between (`predict`
 * also narrows int64 inputs to int32, and warns on stderr for every int64 output). An int64 tensor is handed to
 * the binding as an Int32Array of little-endian halves.
 */
interface TfjsNodeSession {
  sessionId: number;
  signature: { inputs: Record<string, { name: string }> };
  outputNodeNames: Record<string, string>;
  backend: {
    binding: {
      TF_FLOAT: number;
      TF_INT32: number;
      TF_INT64: number;
      TF_UINT8: number;
      TF_BOOL: number;
      TF_STRING: number;
      createTensor(shape: number[], dtype: number, values: BindingValues): number;
      deleteTensor(id: number): void;
      tensorDataSync(id: number): BindingValues;
      runSavedModel(
        session: number,
        inputs: number[],
        inputNames: string,
        outputNames: string,
      ): OutputMetadata[];
    };
  };
}

function sessionOf(model: TfjsNodeSavedModel): TfjsNodeSession | undefined {
  const session = model as unknown as Partial<TfjsNodeSession>;
  const binding = session.backend?.binding;
  if (typeof session.sessionId !== 'number' || !session.signature || !session.outputNodeNames)
    return undefined;
  if (typeof binding?.runSavedModel !== 'function' || typeof binding.tensorDataSync !== 'function')
    return undefined;
  return session as TfjsNodeSession;
}

/** The binding's tensor for a request value, or undefined for a dtype it does not take. */
function feed(binding: TfjsNodeSession['backend']['binding'], tensor: Tensor): number | undefined {
  const { shape } = tensor;
  switch (tensor.dtype) {
    case DataType.DT_FLOAT:
      return binding.createTensor(shape, binding.TF_FLOAT, tensor.values);
    case DataType.DT_INT32:
      return binding.createTensor(shape, binding.TF_INT32, tensor.values);
    case DataType.DT_INT64:
      return binding.createTensor(
        shape,
        binding.TF_INT64,
        new Int32Array(BigInt64Array.from(tensor.values).buffer),
      );
    case DataType.DT_UINT8:
      return binding.createTensor(shape, binding.TF_UINT8, tensor.values);
    case DataType.DT_BOOL:
      return binding.createTensor(shape, binding.TF_BOOL, tensor.values);
    case DataType.DT_STRING:
      return binding.createTensor(shape, binding.TF_STRING, tensor.values);
    default:
      return undefined;
  }
}

/** An output as the signature's dtype wants it: the binding's array itself when it already is that. */
function fetched(data: BindingValues, shape: number[], dtype: DataType, alias: string): Tensor {
  const same =
    (dtype === DataType.DT_FLOAT && data instanceof Float32Array) ||
    (dtype === DataType.DT_INT32 && data instanceof Int32Array) ||
    (dtype === DataType.DT_INT64 && data instanceof BigInt64Array) ||
    ((dtype === DataType.DT_UINT8 || dtype === DataType.DT_BOOL) && data instanceof Uint8Array) ||
    (dtype === DataType.DT_STRING && Array.isArray(data));
  if (same) return { dtype, shape, values: data } as Tensor;
  if (Array.isArray(data) || !isSupportedDataType(dtype)) {
    throw TfServingError.internal(
      `tfjs-node returned output ${alias} in another type than ${DataType[dtype]}`,
    );
  }
  // Any other pairing goes through the tfjs conversion, which range-checks.
  const view = { dtype: data instanceof Float32Array ? 'float32' : 'int32', shape, dataSync: () => data };
  return fromTfTensor(view as unknown as tfCore.Tensor, dtype, alias);
}

/** One run of the session on the request's values; undefined when an input has a dtype the binding lacks. */
function runOnSession(
  session: TfjsNodeSession,
  signature: SignatureDef,
  inputs: Readonly<Record<string, Tensor>>,
  outputAliases: readonly string[],
): Record<string, Tensor> | undefined {
  const { binding } = session.backend;
  const aliases = Object.keys(inputs);
  const ids: number[] = [];
  try {
    for (const alias of aliases) {
      const id = feed(binding, inputs[alias] as Tensor);
      if (id === undefined) return undefined;
      ids.push(id);
    }
    const outputs = binding.runSavedModel(
      session.sessionId,
      ids,
      aliases.map((alias) => session.signature.inputs[alias]?.name).join(','),
      outputAliases.map((alias) => session.outputNodeNames[alias]).join(','),
    );
    try {
      return Object.fromEntries(
        outputAliases.map((alias, i) => {
          const output = outputs[i] as OutputMetadata;
          const dtype = signature.outputs[alias]?.dtype ?? DataType.DT_INVALID;
          return [alias, fetched(binding.tensorDataSync(output.id), [...output.shape], dtype, alias)];
        }),
      );
    } finally {
      for (const output of outputs) binding.deleteTensor(output.id);
    }
  } finally {
    for (const id of ids) binding.deleteTensor(id);
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
    const session = sessionOf(model);
    if (session) {
      try {
        const outputs = runOnSession(session, signature, inputs, outputAliases);
        if (outputs) return outputs;
      } catch (error) {
        if (error instanceof TfServingError) throw error;
        throw TfServingError.invalidArgument(error instanceof Error ? error.message : String(error));
      }
    }
    return this.runPredict(model, signature, inputs, outputAliases);
  }

  /** tfjs-node's own TFSavedModel.predict, through tfjs tensors: where the session internals are not there. */
  private runPredict(
    model: TfjsNodeSavedModel,
    signature: SignatureDef,
    inputs: Readonly<Record<string, Tensor>>,
    outputAliases: readonly string[],
  ): Record<string, Tensor> {
    const feeds = Object.fromEntries(
      Object.entries(inputs).map(([alias, tensor]) => [alias, toTfTensor(tensor, alias)]),
    );
    let outputs: Record<string, tfCore.Tensor> = {};
    try {
      outputs = outputsByAlias(model.predict(feeds), signature);
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
