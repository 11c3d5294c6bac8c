import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromText } from '@bufbuild/protobuf/txtpb';
import { status } from '@grpc/grpc-js';
import { ModelServerConfigSchema, MonitoringConfigSchema } from '@modelgate/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modelConfigEntries, singleModelConfig } from './model-config.js';
import { collectingLog } from './testing/collecting-log.js';
import { readTextProtoFile } from './text-proto-file.js';
import { TfServingError } from './tf-serving-error.js';

const NO_LABELS = { allowVersionLabelsForUnavailableModels: false };

function entries(text: string, options = NO_LABELS) {
  return modelConfigEntries(fromText(ModelServerConfigSchema, text), options, collectingLog().log);
}

function refusal(run: () => unknown): TfServingError {
  try {
    run();
  } catch (error) {
    if (error instanceof TfServingError) return error;
    throw error;
  }
  throw new Error('expected a TfServingError');
}

describe('model_config_list', () => {
  it('reads names, base paths and the default policy: latest, one version', () => {
    expect(
      entries(
        `model_config_list { config { name: 'm' base_path: '/models/m' model_platform: 'tensorflow' } }`,
      ),
    ).toEqual([
      {
        name: 'm',
        basePath: '/models/m',
        versionPolicy: { kind: 'latest', numVersions: 1 },
        versionLabels: new Map(),
      },
    ]);
  });

  it.each([
    ['latest { num_versions: 2 }', { kind: 'latest', numVersions: 2 }],
    ['latest { num_versions: 0 }', { kind: 'latest', numVersions: 1 }],
    ['all {}', { kind: 'all' }],
    ['specific { versions: 1 versions: 3 }', { kind: 'specific', versions: [1n, 3n] }],
  ])('reads the version policy %s', (policy, expected) => {
    const [model] = entries(
      `model_config_list { config { name: 'm' base_path: '/m' model_platform: 'tensorflow' model_version_policy { ${policy} } } }`,
    );
    expect(model?.versionPolicy).toEqual(expected);
  });

  it('refuses a model listed twice', () => {
    const error = refusal(() =>
      entries(`model_config_list {
        config { name: 'm' base_path: '/a' model_platform: 'tensorflow' }
        config { name: 'm' base_path: '/b' model_platform: 'tensorflow' } }`),
    );
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    expect(error.message).toBe('Illegal to list model m multiple times in config list');
  });

  it('refuses a relative base path, naming it', () => {
    expect(
      refusal(() =>
        entries(
          `model_config_list { config { name: 'm' base_path: 'models/m' model_platform: 'tensorflow' } }`,
        ),
      ).message,
    ).toBe('Expected model m to have an absolute path or URI; got base_path()=models/m');
  });

  it('refuses a model without platform and one on a platform other than tensorflow', () => {
    expect(refusal(() => entries(`model_config_list { config { name: 'm' base_path: '/m' } }`)).message).toBe(
      'Illegal setting neither ModelServerConfig::model_type (deprecated) nor ModelServerConfig::model_platform, model name is m',
    );
    expect(
      refusal(() =>
        entries(`model_config_list { config { name: 'm' base_path: '/m' model_platform: 'tflite' } }`),
      ).message,
    ).toBe('Model m requests unsupported platform tflite');
  });

  it('takes the deprecated model_type: TENSORFLOW, with the real warning', () => {
    const { log, messages } = collectingLog();
    const config = fromText(
      ModelServerConfigSchema,
      `model_config_list { config { name: 'm' base_path: '/m' model_type: TENSORFLOW } }`,
    );
    expect(modelConfigEntries(config, NO_LABELS, log)).toHaveLength(1);
    expect(messages()).toContain(
      'Deprecated ModelServerConfig::model_type field used. Prefer ModelServerConfig::model_platform.',
    );
  });

  it('refuses version labels at start-up unless --allow_version_labels_for_unavailable_models', () => {
    const text = `model_config_list { config { name: 'm' base_path: '/m' model_platform: 'tensorflow'
      version_labels { key: 'stable' value: 1 } } }`;
    const error = refusal(() => entries(text));
    expect(error.code).toBe(status.FAILED_PRECONDITION);
    expect(error.message).toBe(
      'Request to assign label to version 1 of model m, which is not currently available for inference',
    );
    expect(entries(text, { allowVersionLabelsForUnavailableModels: true })[0]?.versionLabels).toEqual(
      new Map([['stable', 1n]]),
    );
  });

  it('serves nothing for an empty config, logging as the real server does', () => {
    const { log, messages } = collectingLog();
    expect(modelConfigEntries(fromText(ModelServerConfigSchema, ''), NO_LABELS, log)).toEqual([]);
    expect(messages()).toEqual(['Taking no action for empty config.']);
  });

  it('builds the single-model config of --model_name and --model_base_path, logging it', () => {
    const { log, messages } = collectingLog();
    const [model] = modelConfigEntries(singleModelConfig('m', '/models/m', log), NO_LABELS, log);
    expect(model).toMatchObject({ name: 'm', basePath: '/models/m' });
    expect(messages()[0]).toBe(
      'Building single TensorFlow model file config:  model_name: m model_base_path: /models/m',
    );
  });
});

describe('text-format config files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tf-serving-config-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('reads a model config file', async () => {
    const file = join(dir, 'models.config');
    await writeFile(
      file,
      `model_config_list { config { name: "m" base_path: "/m" model_platform: "tensorflow" } }`,
    );
    const config = await readTextProtoFile(ModelServerConfigSchema, file, () => {});
    expect(config.config.case).toBe('modelConfigList');
  });

  it('reads a monitoring config file', async () => {
    const file = join(dir, 'monitoring.config');
    await writeFile(file, 'prometheus_config { enable: true path: "/metrics" }');
    expect((await readTextProtoFile(MonitoringConfigSchema, file, () => {})).prometheusConfig).toMatchObject({
      enable: true,
      path: '/metrics',
    });
  });

  it('refuses a missing file with NOT_FOUND naming it', async () => {
    const file = join(dir, 'missing.config');
    await expect(readTextProtoFile(ModelServerConfigSchema, file, () => {})).rejects.toMatchObject({
      code: status.NOT_FOUND,
      message: `${file}; No such file or directory`,
    });
  });

  it("refuses a file that does not parse with INVALID_ARGUMENT `Invalid protobuf file: '<file>'`, logging why", async () => {
    const file = join(dir, 'bad.config');
    await writeFile(file, 'model_config_list { config { nmae: "x" } }');
    const logged: string[] = [];
    await expect(
      readTextProtoFile(ModelServerConfigSchema, file, (m) => logged.push(m)),
    ).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      message: `Invalid protobuf file: '${file}'`,
    });
    expect(logged[0]).toMatch(/^Error parsing text-format tensorflow\.serving\.ModelServerConfig: .*nmae/);
  });
});
