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
