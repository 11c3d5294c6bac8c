import { isAbsolute } from 'node:path';
import { create } from '@bufbuild/protobuf';
import {
  type ModelConfig,
  type ModelServerConfig,
  ModelServerConfigSchema,
  ModelType,
} from '@modelgate/proto';
import type { ServerLog } from './server-log.js';
import { TfServingError } from './tf-serving-error.js';

/** The one platform TF Serving's stock build serves (model_servers/model_platform_types.h). */
export const TENSORFLOW_PLATFORM = 'tensorflow';

/** `gs://...`, `s3://...`: TF Serving takes a URI for an absolute path (server_core.cc UriIsRelativePath). */
const URI_SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

/** Which numbered versions under a base path are served (file_system_storage_path_source.proto). */
export type VersionPolicy =
  | { kind: 'latest'; numVersions: number }
  | { kind: 'all' }
  | { kind: 'specific'; versions: bigint[] };

/** One model of the model_config_list, validated as ServerCore validates it. */
export interface ModelConfigEntry {
  name: string;
  basePath: string;
  versionPolicy: VersionPolicy;
  /** label -> version; assigned once the versions are loaded. */
  versionLabels: ReadonlyMap<string, bigint>;
}

/** The config --model_name/--model_base_path stand for (server.cc BuildSingleModelConfig). */
export function singleModelConfig(
  modelName: string,
  modelBasePath: string,
  log: ServerLog,
): ModelServerConfig {
  log.info(
    'tensorflow_serving/model_servers/server.cc:80',
    `Building single TensorFlow model file config:  model_name: ${modelName} model_base_path: ${modelBasePath}`,
  );
  return create(ModelServerConfigSchema, {
    config: {
      case: 'modelConfigList',
      value: { config: [{ name: modelName, basePath: modelBasePath, modelPlatform: TENSORFLOW_PLATFORM }] },
    },
  });
}

function versionPolicyOf(config: ModelConfig): VersionPolicy {
  const choice = config.modelVersionPolicy?.policyChoice;
  switch (choice?.case) {
    case 'all':
      return { kind: 'all' };
    case 'specific':
      return { kind: 'specific', versions: [...choice.value.versions] };
    case 'latest':
      // TF Serving serves at least one version whatever num_versions says.
      return { kind: 'latest', numVersions: Math.max(choice.value.numVersions, 1) };
    default:
      return { kind: 'latest', numVersions: 1 };
  }
}

/** The model's platform, with ServerCore's refusals (server_core.cc GetPlatform). */
function platformOf(config: ModelConfig, log: ServerLog): string {
  if (config.modelType !== ModelType.MODEL_TYPE_UNSPECIFIED) {
    log.warn(
      'tensorflow_serving/model_servers/server_core.cc:80',
      'Deprecated ModelServerConfig::model_type field used. Prefer ModelServerConfig::model_platform.',
    );
    if (config.modelPlatform !== '') {
      throw TfServingError.invalidArgument(
        `Illegal setting both ModelServerConfig::model_type (deprecated) and ModelServerConfig::model_platform, model name is ${config.name}`,
      );
    }
    if (config.modelType !== ModelType.TENSORFLOW) {
      throw TfServingError.invalidArgument(
        `ModelServerConfig::model_type choice ${config.modelType} not supported.`,
      );
    }
    return TENSORFLOW_PLATFORM;
  }
  if (config.modelPlatform === '') {
    throw TfServingError.invalidArgument(
      `Illegal setting neither ModelServerConfig::model_type (deprecated) nor ModelServerConfig::model_platform, model name is ${config.name}`,
    );
  }
  return config.modelPlatform;
}

export interface ModelConfigOptions {
  /** --allow_version_labels_for_unavailable_models */
  allowVersionLabelsForUnavailableModels: boolean;
}

/**
 * The models of a ModelServerConfig, checked in ServerCore::ReloadConfig's order: unique names, absolute base
 * paths, version labels (refused at start-up unless allowed, since no version is loaded yet), platforms.
 * An empty config serves no model; a custom_model_config is refused, as the real server aborts on it.
 */
export function modelConfigEntries(
  config: ModelServerConfig,
  options: ModelConfigOptions,
  log: ServerLog,
  /** Whether a version is AVAILABLE now: none at start-up; a reload's labels may name those that are. */
  isAvailable: (name: string, version: bigint) => boolean = () => false,
): ModelConfigEntry[] {
  if (config.config.case === undefined) {
    log.info('tensorflow_serving/model_servers/server_core.cc:500', 'Taking no action for empty config.');
    return [];
  }
  if (config.config.case === 'customModelConfig') {
    throw TfServingError.invalidArgument('ModelServer does not yet support custom model config.');
  }
  const models = config.config.value.config;
  const names = new Set<string>();
  for (const model of models) {
    if (names.has(model.name)) {
      throw TfServingError.invalidArgument(
        `Illegal to list model ${model.name} multiple times in config list`,
      );
    }
    names.add(model.name);
  }
  for (const model of models) {
    if (!isAbsolute(model.basePath) && !URI_SCHEME.test(model.basePath)) {
      throw TfServingError.invalidArgument(
        `Expected model ${model.name} to have an absolute path or URI; got base_path()=${model.basePath}`,
      );
    }
  }
  if (!options.allowVersionLabelsForUnavailableModels) {
    for (const model of models) {
      for (const label of Object.keys(model.versionLabels).sort()) {
        const version = model.versionLabels[label] as bigint;
        if (isAvailable(model.name, version)) continue;
        throw TfServingError.failedPrecondition(
          `Request to assign label to version ${version} of model ${model.name}, which is not currently available for inference`,
        );
      }
    }
  }
  return models.map((model) => {
    const platform = platformOf(model, log);
    if (platform !== TENSORFLOW_PLATFORM) {
      throw TfServingError.invalidArgument(`Model ${model.name} requests unsupported platform ${platform}`);
    }
    return {
      name: model.name,
      basePath: model.basePath,
      versionPolicy: versionPolicyOf(model),
      versionLabels: new Map(Object.entries(model.versionLabels)),
    };
  });
}
