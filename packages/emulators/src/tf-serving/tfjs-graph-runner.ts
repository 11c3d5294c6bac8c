import { create } from '@bufbuild/protobuf';
import { status } from '@grpc/grpc-js';
import {
  DataType,
  isSupportedDataType,
  type SignatureDef,
  SignatureDefSchema,
  type Tensor,
  type TensorInfo,
  tfjsGraphModel,
} from '@modelgate/proto';
import { fromTfTensor, toTfTensor } from '@modelgate/proto/tfjs';
import { type GraphModel, loadGraphModel } from '@tensorflow/tfjs-converter';
import type * as tfCore from '@tensorflow/tfjs-core';
import { freezeGraph } from './graph-freezer.js';
import type { LoadedServable, ModelRunner, RunnerBackend, ServableSource } from './model-runner.js';
import { asTfServingError, TfServingError } from './tf-serving-error.js';

/** The tfjs-core namespace a runner computes with (the caller's copy, with its backend already set). */
export type TfjsCore = typeof tfCore;

/** tfjsGraphModel's signature only labels model.json; the runner feeds and fetches tensor names. */
const UNLABELLED = create(SignatureDefSchema, { methodName: 'tensorflow/serving/predict' });

/** `x:0` for a TensorInfo that names a dense tensor; undefined for sparse, composite and op-only entries. */
export function denseTensorName(info: TensorInfo | undefined): string | undefined {
  if (info?.encoding.case !== 'name') return undefined;
  const name = info.encoding.value;
  return /:\d+$/.test(name) ? name : undefined;
}

/** Signatures that can run here: every input and output a dense tensor (not, e.g., `__saved_model_init_op`). */
function runnableSignatures(signatures: Readonly<Record<string, SignatureDef>>): SignatureDef[] {
  return Object.values(signatures).filter((signature) => {
    const infos = [...Object.values(signature.inputs), ...Object.values(signature.outputs)];
    return infos.length > 0 && infos.every((info) => denseTensorName(info) !== undefined);
  });
}

const DYNAMIC_OP_HINT = /executeAsync/;

class TfjsGraphServable implements LoadedServable {
  private async_ = false;

  constructor(
    private readonly tf: TfjsCore,
    private readonly model: GraphModel,
    readonly signatures: Readonly<Record<string, SignatureDef>>,
  ) {}

  async run(
    signatureKey: string,
    inputs: Readonly<Record<string, Tensor>>,
    outputAliases: readonly string[],
  ): Promise<Record<string, Tensor>> {
    const signature = this.signatures[signatureKey];
    if (!signature)
      throw TfServingError.failedPrecondition(`Serving signature key "${signatureKey}" not found.`);
    const feeds: Record<string, tfCore.Tensor> = {};
    let results: tfCore.Tensor[] = [];
    try {
      for (const [alias, tensor] of Object.entries(inputs)) {
        const name = denseTensorName(signature.inputs[alias]);
        if (name === undefined) throw TfServingError.invalidArgument(`input ${alias} is not a dense tensor`);
        feeds[name] = toTfTensor(tensor, alias);
      }
      const fetches = outputAliases.map((alias) => denseTensorName(signature.outputs[alias]) ?? alias);
      results = await this.execute(feeds, fetches);
      return Object.fromEntries(
        outputAliases.map((alias, i) => [
          alias,
          fromTfTensor(results[i] as tfCore.Tensor, outputDtype(signature.outputs[alias]), alias),
        ]),
      );
    } catch (error) {
      throw error instanceof TfServingError ? error : runtimeError(error);
    } finally {
      this.tf.dispose([...Object.values(feeds), ...results]);
    }
  }

  private async execute(feeds: Record<string, tfCore.Tensor>, fetches: string[]): Promise<tfCore.Tensor[]> {
    if (!this.async_) {
      try {
        const out = this.model.execute(feeds, fetches);
        return Array.isArray(out) ? out : [out];
      } catch (error) {
        // Graphs with control flow or dynamic shapes only run through executeAsync.
        if (!(error instanceof Error && DYNAMIC_OP_HINT.test(error.message))) throw error;
        this.async_ = true;
      }
    }
    const out = await this.model.executeAsync(feeds, fetches);
    return Array.isArray(out) ? out : [out];
  }

  dispose(): void {
    this.model.dispose();
  }
}

function outputDtype(info: TensorInfo | undefined) {
  const dtype = info?.dtype ?? DataType.DT_INVALID;
  return isSupportedDataType(dtype) ? dtype : undefined;
}

/** An engine failure while running a graph: TensorFlow reports such kernel errors as INVALID_ARGUMENT. */
function runtimeError(error: unknown): TfServingError {
  return new TfServingError(status.INVALID_ARGUMENT, asTfServingError(error).message, { cause: error });
}

/**
 * Runs SavedModels on tfjs-core's pure JavaScript engines (wasm or cpu backend): the graph is frozen (functions
 * inlined, variables restored from the checkpoint), converted to a tfjs graph model in memory by the fixtures'
 * `tfjsGraphModel`, and executed by tfjs-converter with tensor names as feeds and fetches.
 */
export class TfjsGraphRunner implements ModelRunner {
  readonly description: string;

  constructor(
    private readonly tf: TfjsCore,
    readonly backend: Extract<RunnerBackend, 'wasm' | 'cpu'>,
    detail = '',
  ) {
    this.description = `tfjs ${tf.version_core} ${backend}${detail ? ` (${detail})` : ''}`;
  }

  async load(source: ServableSource): Promise<LoadedServable> {
    const { exportDir, metaGraph } = source;
    const signatures = metaGraph.signatureDef;
    const graphDef = metaGraph.graphDef;
    if (!graphDef) throw TfServingError.invalidArgument(`The SavedModel at ${exportDir} has no GraphDef`);
    const fetches = runnableSignatures(signatures).flatMap((signature) =>
      Object.values(signature.outputs).map((info) => denseTensorName(info) as string),
    );
    const frozen = await freezeGraph(graphDef, {
      exportDir,
      saverDef: metaGraph.saverDef,
      fetches,
      opDefs: metaGraph.metaInfoDef?.strippedOpList?.op ?? [],
    });
    let model: GraphModel;
    try {
      const converted = tfjsGraphModel(frozen, UNLABELLED);
      const modelJson = JSON.parse(converted.modelJson) as tfCore.io.ModelJSON;
      const weightData = converted.weights.slice().buffer;
      model = await loadGraphModel(
        this.tf.io.fromMemory({
          modelTopology: modelJson.modelTopology,
          weightSpecs: modelJson.weightsManifest.flatMap((group) => group.weights),
          weightData,
        }),
      );
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw TfServingError.unimplemented(
        `The SavedModel at ${exportDir} cannot run on the tfjs graph runner: ${reason}`,
      );
    }
    return new TfjsGraphServable(this.tf, model, signatures);
  }
}
