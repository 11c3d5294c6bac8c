// TF Serving's --model_config_file and --monitoring_config_file are protobuf text format; protobuf-es's
// txtpb reads them with these schemas, so the field names here must be TF Serving's.
import { fromText } from '@bufbuild/protobuf/txtpb';
import { describe, expect, it } from 'vitest';
import { ModelServerConfigSchema, MonitoringConfigSchema } from './index.js';

describe('ModelServerConfig text format', () => {
  it('reads a model_config_list with version policies and labels', () => {
    const config = fromText(
      ModelServerConfigSchema,
      `model_config_list {
        config { name: 'half_plus_two' base_path: '/models/half_plus_two' model_platform: 'tensorflow' }
        config {
          name: "classifier"
          base_path: "/models/classifier"
          model_platform: "tensorflow"
          model_version_policy { specific { versions: 1 versions: 2 } }
          version_labels { key: "stable" value: 1 }
        }
      }`,
    );
    expect(config.config.case).toBe('modelConfigList');
    const list = config.config.case === 'modelConfigList' ? config.config.value.config : [];
    expect(list.map((model) => model.name)).toEqual(['half_plus_two', 'classifier']);
    const policy = list[1]?.modelVersionPolicy?.policyChoice;
    expect(policy?.case).toBe('specific');
    expect(policy?.case === 'specific' ? policy.value.versions : []).toEqual([1n, 2n]);
    expect(list[1]?.versionLabels).toEqual({ stable: 1n });
  });

  it('refuses a field TF Serving does not have', () => {
    expect(() => fromText(ModelServerConfigSchema, 'model_config_list { config { nmae: "x" } }')).toThrow(
      /nmae/,
    );
  });

  it('reads the Prometheus monitoring config', () => {
    const monitoring = fromText(
      MonitoringConfigSchema,
      'prometheus_config { enable: true path: "/monitoring/prometheus/metrics" }',
    );
    expect(monitoring.prometheusConfig?.enable).toBe(true);
    expect(monitoring.prometheusConfig?.path).toBe('/monitoring/prometheus/metrics');
  });
});
