import { create } from '@bufbuild/protobuf';
import { toText } from '@bufbuild/protobuf/txtpb';
import {
  type ModelServerConfig,
  ModelServerConfigSchema,
  MonitoringConfigSchema,
  FileSystemStoragePathSourceConfig_ServableVersionPolicySchema as ServableVersionPolicySchema,
} from '@modelgate/proto';
import type { Policy, VersionPolicy } from '../policy.js';

// TF Serving's own configuration for a policy's models, as the text protos its flags read:
// --model_config_file (a ModelServerConfig listing every model with its base path and version policy) and
// --monitoring_config_file (Prometheus on the REST port).

/** Where TF Serving exposes Prometheus metrics on its REST port (its default path). */
export const TF_SERVING_METRICS_PATH = '/monitoring/prometheus/metrics';

function versionPolicy(policy: VersionPolicy) {
  switch (policy.kind) {
    case 'all':
      return create(ServableVersionPolicySchema, { policyChoice: { case: 'all', value: {} } });
    case 'specific':
      return create(ServableVersionPolicySchema, {
        policyChoice: { case: 'specific', value: { versions: policy.versions.map(BigInt) } },
      });
    case 'latest':
      return create(ServableVersionPolicySchema, {
        policyChoice: { case: 'latest', value: { numVersions: policy.numVersions } },
      });
  }
}

/**
 * The ModelServerConfig for a policy: one entry per model, `basePath(model)` where the server finds its version
 * folders (inside the container, or on disk for a local server).
 */
export function tfServingModelServerConfig(
  policy: Policy,
  basePath: (model: string) => string,
): ModelServerConfig {
  return create(ModelServerConfigSchema, {
    config: {
      case: 'modelConfigList',
      value: {
        config: policy.models.map((model) => ({
          name: model.name,
          basePath: basePath(model.name),
          modelPlatform: 'tensorflow',
          modelVersionPolicy: versionPolicy(model.versionPolicy),
        })),
      },
    },
  });
}

/** The model config file (text format) that --model_config_file reads. */
export function tfServingModelConfig(policy: Policy, basePath: (model: string) => string): string {
  return toText(ModelServerConfigSchema, tfServingModelServerConfig(policy, basePath));
}

/** The monitoring config file: Prometheus metrics on the REST port. */
export function tfServingMonitoringConfig(): string {
  return toText(
    MonitoringConfigSchema,
    create(MonitoringConfigSchema, { prometheusConfig: { enable: true, path: TF_SERVING_METRICS_PATH } }),
  );
}
