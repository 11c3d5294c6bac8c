import { existsSync } from 'node:fs';
import { cp, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { status } from '@grpc/grpc-js';
import {
  createPromiseClient,
  ModelServerConfigSchema,
  ModelService,
  ModelVersionStatus_State as State,
} from '@modelgate/proto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../testing/eventually.js';
import type { ModelRunner } from './model-runner.js';
import { createModelRunner } from './model-runner-factory.js';
import { type ModelRepository, modelRepository } from './testing/model-repository.js';
import { TfServingEmulator, type TfServingEmulatorOptions } from './tf-serving-emulator.js';

// Versions that come and go while the server runs (file_system_storage_path_source.cc polling, the
// AvailabilityPreservingPolicy), config reloads (--model_config_file_poll_wait_seconds,
// ModelService/HandleReloadConfigRequest) and base paths missing at start, which the real server waits for.

let runner: ModelRunner;
let fixtures: ModelRepository;
let scratch: string;
const started: TfServingEmulator[] = [];

beforeAll(async () => {
  runner = await createModelRunner({ prefer: 'wasm' });
  fixtures = await modelRepository([
    { name: 'classifier', graph: 'classifier', version: 1 },
    { name: 'classifier', graph: 'classifier', version: 2 },
    { name: 'half_plus_two', graph: 'half_plus_two', version: 1 },
  ]);
});
afterAll(() => fixtures.remove());
afterEach(async () => {
  await Promise.all(started.splice(0).map((emulator) => emulator.stop()));
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** A fresh base path holding copies of the fixture versions given. */
async function basePath(versions: number[], model = 'classifier'): Promise<string> {
  scratch = await mkdtemp(join(tmpdir(), 'tf-serving-lifecycle-'));
  const base = join(scratch, model);
  for (const version of versions) await addVersion(base, version, model);
  return base;
}

/**
 * Copies a fixture version into the base path the way a deployment should: staged beside it, then renamed in,
 * so a poll can never see a version folder whose files are still being copied (it would fail to load, and a
 * failed version stays END). A base path that does not exist yet appears whole, with the version in it.
 */
async function addVersion(base: string, version: number, model = 'classifier'): Promise<void> {
  const staged = await mkdtemp(join(dirname(base), '.staging-'));
  await cp(join(fixtures.basePath(model), String(version)), join(staged, String(version)), {
    recursive: true,
  });
  if (existsSync(base)) {
    await rename(join(staged, String(version)), join(base, String(version)));
    await rm(staged, { recursive: true });
  } else await rename(staged, base);
}

function emulator(options: TfServingEmulatorOptions) {
  const lines: string[] = [];
  const instance = new TfServingEmulator({
    pickFreeGrpcPort: true,
    runner,
    log: (l) => lines.push(l),
    ...options,
  });
  started.push(instance);
  return { instance, lines };
}

async function statusClient(grpcPort: number) {
  const client = createPromiseClient(ModelService, `localhost:${grpcPort}`);
  const states = async (name: string) =>
    (await client.getModelStatus({ modelSpec: { name } })).modelVersionStatus.map((s) => [
      s.version,
      s.state,
    ]);
  return { client, states };
}

const config = (...models: [name: string, path: string][]) =>
  create(ModelServerConfigSchema, {
    config: {
      case: 'modelConfigList',
      value: {
        config: models.map(([name, path]) => ({ name, basePath: path, modelPlatform: 'tensorflow' })),
      },
    },
  });

describe('versions that come and go (--file_system_poll_wait_seconds)', () => {
  it('serves a new version once loaded, unloading the old one only after, and a removed one goes', async () => {
    const base = await basePath([1]);
    const { instance, lines } = emulator({ modelName: 'classifier', modelBasePath: base });
    const { grpcPort } = await instance.start();
    const { client, states } = await statusClient(grpcPort);
    try {
      expect(await states('classifier')).toEqual([[1n, State.AVAILABLE]]);
      await addVersion(base, 2);
      await eventually(async () => (await states('classifier'))[0]?.[1] === State.AVAILABLE);
      await eventually(async () => (await states('classifier'))[1]?.[1] === State.END);
      expect(await states('classifier')).toEqual([
        [2n, State.AVAILABLE],
        [1n, State.END],
      ]);
      // AvailabilityPreservingPolicy: the new version is AVAILABLE before the old one is unloaded.
      const loaded2 = lines.findIndex((l) =>
        l.endsWith('Successfully loaded servable version {name: classifier version: 2}'),
      );
      const unloaded1 = lines.findIndex((l) =>
        l.endsWith('Done unloading servable version {name: classifier version: 1}'),
      );
      expect(loaded2).toBeGreaterThan(-1);
      expect(unloaded1).toBeGreaterThan(loaded2);

      await rm(join(base, '2'), { recursive: true });
      await eventually(async () => {
        const now = await states('classifier');
        return (
          now.some(([v, s]) => v === 1n && s === State.AVAILABLE) &&
          now.some(([v, s]) => v === 2n && s === State.END)
        );
      });
    } finally {
      client.close();
    }
  });

  it('waits at start for a base path that is missing, logging each failed poll, and starts once it appears', async () => {
    scratch = await mkdtemp(join(tmpdir(), 'tf-serving-lifecycle-'));
    const base = join(scratch, 'classifier');
    const { instance, lines } = emulator({ modelName: 'classifier', modelBasePath: base });
    let ready = false;
    const starting = instance.start().then((ports) => {
      ready = true;
      return ports;
    });
    const error = `FileSystemStoragePathSource encountered a filesystem access error: Could not find base path ${base} for servable classifier with error NOT_FOUND: ${base} not found`;
    await eventually(() => lines.filter((l) => l.endsWith(error)).length >= 2);
    expect(ready).toBe(false);
    expect(lines.some((l) => l.includes('Running gRPC ModelServer'))).toBe(false);
    await addVersion(base, 1);
    const { grpcPort } = await starting;
    const { client, states } = await statusClient(grpcPort);
    try {
      expect(await states('classifier')).toEqual([[1n, State.AVAILABLE]]);
    } finally {
      client.close();
    }
  });

  it('lets a stop end a start that waits for a missing base path', async () => {
    scratch = await mkdtemp(join(tmpdir(), 'tf-serving-lifecycle-'));
    const { instance, lines } = emulator({ modelName: 'm', modelBasePath: join(scratch, 'm') });
    const starting = instance.start();
    await eventually(() => lines.some((l) => l.includes('Could not find base path')));
    await instance.stop();
    await expect(starting).rejects.toMatchObject({ code: status.CANCELLED });
  });
});

describe('config reloads', () => {
  it('re-reads --model_config_file every --model_config_file_poll_wait_seconds', async () => {
    const classifier = await basePath([1]);
    const half = join(scratch, 'half_plus_two');
    await addVersion(half, 1, 'half_plus_two');
    const file = join(scratch, 'models.config');
    const text = (name: string, path: string) =>
      `model_config_list { config { name: '${name}' base_path: '${path}' model_platform: 'tensorflow' } }`;
    await writeFile(file, text('classifier', classifier));
    const { instance } = emulator({ modelConfigFile: file, modelConfigFilePollWaitSeconds: 1 });
    const { grpcPort } = await instance.start();
    const { client, states } = await statusClient(grpcPort);
    try {
      await writeFile(file, text('half_plus_two', half));
      await eventually(
        async () => (await states('half_plus_two').catch(() => []))[0]?.[1] === State.AVAILABLE,
      );
      expect(await states('classifier')).toEqual([[1n, State.END]]);
    } finally {
      client.close();
    }
  });

  it('applies a new config through HandleReloadConfigRequest and answers its status', async () => {
    const classifier = await basePath([1]);
    const half = join(scratch, 'half_plus_two');
    await addVersion(half, 1, 'half_plus_two');
    const { instance, lines } = emulator({ modelConfig: config(['classifier', classifier]) });
    const { grpcPort } = await instance.start();
    const { client, states } = await statusClient(grpcPort);
    try {
      const response = await client.handleReloadConfigRequest({
        config: config(['classifier', classifier], ['half_plus_two', half]),
        metricNames: [':tensorflow:cc:saved_model:load_attempt_count'],
      });
      expect(response.status).toMatchObject({ errorCode: 0, errorMessage: '' });
      expect(response.metric).toMatchObject([
        {
          name: ':tensorflow:cc:saved_model:load_attempt_count',
          valueIncrease: { case: 'int64ValueIncrease', value: 0n },
        },
      ]);
      // The reload returns once the new model is AVAILABLE, as ServerCore waits for it.
      expect(await states('half_plus_two')).toEqual([[1n, State.AVAILABLE]]);
      expect(await states('classifier')).toEqual([[1n, State.AVAILABLE]]);
      expect(
        lines.some(
          (l) =>
            l.includes('\nConfig entry\n\tindex : 1\n\tpath : ') &&
            l.endsWith('\tname : half_plus_two\n\tplatform : tensorflow'),
        ),
      ).toBe(true);
    } finally {
      client.close();
    }
  });

  it.each([
    [
      'a config that is not a ModelConfigList',
      create(ModelServerConfigSchema, {}),
      status.INVALID_ARGUMENT,
      'ServerModelConfig type not supported by HandleReloadConfigRequest. Only ModelConfigList is currently supported',
    ],
    [
      'a label for a version that is not available',
      create(ModelServerConfigSchema, {
        config: {
          case: 'modelConfigList',
          value: {
            config: [
              {
                name: 'classifier',
                basePath: '/x',
                modelPlatform: 'tensorflow',
                versionLabels: { stable: 7n },
              },
            ],
          },
        },
      }),
      status.FAILED_PRECONDITION,
      'Request to assign label to version 7 of model classifier, which is not currently available for inference',
    ],
  ])('refuses %s with the real status', async (_label, bad, code, details) => {
    const classifier = await basePath([1]);
    const { instance } = emulator({ modelConfig: config(['classifier', classifier]) });
    const { grpcPort } = await instance.start();
    const client = createPromiseClient(ModelService, `localhost:${grpcPort}`);
    try {
      await expect(client.handleReloadConfigRequest({ config: bad })).rejects.toMatchObject({
        code,
        details,
      });
    } finally {
      client.close();
    }
  });
});
