import type { MetaGraphDef, SignatureDef, Tensor } from '@modelgate/proto';

/** Which engine runs the graphs: tfjs's wasm or cpu backend, or TensorFlow's C library under tfjs-node. */
export type RunnerBackend = 'wasm' | 'cpu' | 'tensorflow';

/** One SavedModel version as the model server loads it. */
export interface ServableSource {
  /** The version folder, e.g. `/models/half_plus_two/1`. */
  exportDir: string;
  /** The MetaGraphDef picked by --saved_model_tags. */
  metaGraph: MetaGraphDef;
  tags: readonly string[];
}

/** A loaded version: its signatures and a way to run one of them. */
export interface LoadedServable {
  readonly signatures: Readonly<Record<string, SignatureDef>>;
  /**
   * Runs a signature on inputs keyed by alias (already checked against the signature's aliases and dtypes)
   * and answers the outputs asked for, keyed by alias. Failures are TfServingErrors; the engine's own
   * messages are kept (they differ from TensorFlow's: see README).
   */
  run(
    signatureKey: string,
    inputs: Readonly<Record<string, Tensor>>,
    outputAliases: readonly string[],
  ): Promise<Record<string, Tensor>>;
  dispose(): void;
}

/** Loads SavedModel versions on one engine. */
export interface ModelRunner {
  readonly backend: RunnerBackend;
  /** For the start-up log: engine, version and settings, e.g. `tfjs 4.22.0 wasm (SIMD, 1 thread)`. */
  readonly description: string;
  /** Loads a version or refuses it with a TfServingError that names the export folder. */
  load(source: ServableSource): Promise<LoadedServable>;
}
