// TensorFlow Serving emulator: the real server's command line, gRPC and REST APIs, metrics and batching,
// running SavedModels on tfjs. See README-section.md for what it implements and how it differs.

export { Batcher, type BatchingOptions, batchingOptionsFrom, DEFAULT_BATCHING_OPTIONS } from './batcher.js';
export { DEFAULT_PROMETHEUS_PATH, LATENCY_BUCKETS_MICROS, ServingMetrics } from './metrics.js';
export type { LoadedServable, ModelRunner, RunnerBackend, ServableSource } from './model-runner.js';
export {
  createModelRunner,
  loadPureTfjs,
  type ModelRunnerOptions,
  type TfjsLoader,
} from './model-runner-factory.js';
export { type LogSink, ServerLog, SILENT_LOG } from './server-log.js';
export {
  DEFAULT_SERVER_OPTIONS,
  entrypointArguments,
  type FlagParseResult,
  parseServerFlags,
  type ServerOptions,
  usage,
} from './server-options.js';
export {
  type StartedTfServing,
  TfServingEmulator,
  type TfServingEmulatorOptions,
} from './tf-serving-emulator.js';
export { codeName, httpStatusOf, TfServingError, truncateForGrpc } from './tf-serving-error.js';
export { type TfjsCore, TfjsGraphRunner } from './tfjs-graph-runner.js';
export {
  type LoadSavedModel,
  type TfjsNodeSavedModel,
  TfjsNodeSavedModelRunner,
} from './tfjs-node-saved-model-runner.js';
