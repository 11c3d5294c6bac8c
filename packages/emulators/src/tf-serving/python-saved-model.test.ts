import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { create } from '@bufbuild/protobuf';
import { GOLDEN_TOLERANCE, withinTolerance } from '@modelgate/fixtures';
import { PRODUCT_VERSIONS, tensorflowPython } from '@modelgate/policy';
import {
  createPromiseClient,
  DataType,
  decodeTensor,
  encodeTensor,
  ModelServerConfigSchema,
  PredictionService,
} from '@modelgate/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelRunner } from './model-runner.js';
import { createModelRunner } from './model-runner-factory.js';
import { TfServingEmulator } from './tf-serving-emulator.js';

// SavedModels exported by Python TensorFlow (tf.saved_model.save of a tf.Module with variables, and a Keras 3
// model.export()) served by the emulator, checked against what TensorFlow itself computes for them. This test
// never skips: without the pinned TensorFlow it fails and says how to set it up.

const SCRIPT = fileURLToPath(new URL('../../scripts/export_python_saved_models.py', import.meta.url));
const EXPORT_TIMEOUT_MS = 180_000;
const MODELS = ['tf_module_dense', 'keras_mlp'] as const;

interface ExpectedTensor {
  shape: number[];
  values: number[];
}
interface Expected {
  tensorflow: string;
  models: Record<string, { inputs: Record<string, ExpectedTensor>; outputs: Record<string, ExpectedTensor> }>;
}

function exportModels(python: string, out: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(python, [SCRIPT, out], { timeout: EXPORT_TIMEOUT_MS }, (error, _stdout, stderr) =>
      error ? reject(new Error(`${SCRIPT} failed: ${error.message}\n${stderr}`)) : resolve(),
    );
  });
}

const floatTensor = (t: ExpectedTensor) =>
  ({ dtype: DataType.DT_FLOAT, shape: t.shape, values: Float32Array.from(t.values) }) as const;

function config(root: string, names: readonly string[]) {
  return create(ModelServerConfigSchema, {
    config: {
      case: 'modelConfigList',
      value: {
        config: names.map((name) => ({ name, basePath: join(root, name), modelPlatform: 'tensorflow' })),
      },
    },
  });
}

let dir: string;
let expected: Expected;
let runner: ModelRunner;

beforeAll(async () => {
  const python = tensorflowPython();
  dir = await mkdtemp(join(tmpdir(), 'tf-serving-python-'));
  await exportModels(python, dir);
  expected = JSON.parse(await readFile(join(dir, 'expected.json'), 'utf8')) as Expected;
  runner = await createModelRunner({ prefer: 'wasm' });
}, EXPORT_TIMEOUT_MS + 10_000);

afterAll(() => (dir ? rm(dir, { recursive: true, force: true }) : undefined));

describe('SavedModels exported by Python TensorFlow', () => {
  it('were written by the pinned TensorFlow', () => {
    expect(expected.tensorflow).toBe(PRODUCT_VERSIONS.tensorflow);
  });

  it('load (functions inlined, variables restored from the checkpoint) and predict as TensorFlow does', async () => {
    const emulator = new TfServingEmulator({
      port: 0,
      restApiPort: 0,
      modelConfig: config(dir, MODELS),
      runner,
      log: () => {},
    });
    const { grpcPort, restPort } = await emulator.start();
    const client = createPromiseClient(PredictionService, `localhost:${grpcPort}`);
    try {
      for (const name of MODELS) {
        const model = expected.models[name];
        if (!model) throw new Error(`expected.json has no ${name}`);
        const response = await client.predict({
          modelSpec: { name },
          inputs: Object.fromEntries(
            Object.entries(model.inputs).map(([alias, t]) => [alias, encodeTensor(floatTensor(t))]),
          ),
        });
        for (const [alias, want] of Object.entries(model.outputs)) {
          const got = decodeTensor(
            response.outputs[alias] ?? encodeTensor(floatTensor({ shape: [0], values: [] })),
          );
          expect(got.shape, `${name} ${alias}`).toEqual(want.shape);
          expect(
            withinTolerance(got.values as Float32Array, want.values, GOLDEN_TOLERANCE),
            `${name} ${alias}`,
          ).toMatchObject({ ok: true });
        }
        const rest = await fetch(`http://127.0.0.1:${restPort}/v1/models/${name}:predict`, {
          method: 'POST',
          body: JSON.stringify({
            inputs: Object.fromEntries(
              Object.entries(model.inputs).map(([alias, t]) => [alias, [t.values.slice(0, 4)]]),
            ),
          }),
        });
        expect(rest.status, `${name} REST`).toBe(200);
      }
    } finally {
      client.close();
      await emulator.stop();
    }
  });

  it('keep every signature in their metadata, __saved_model_init_op included', async () => {
    const emulator = new TfServingEmulator({
      port: 0,
      restApiPort: 0,
      modelConfig: config(dir, ['tf_module_dense']),
      runner,
      log: () => {},
    });
    const { restPort } = await emulator.start();
    try {
      const metadata = (await (
        await fetch(`http://127.0.0.1:${restPort}/v1/models/tf_module_dense/metadata`)
      ).json()) as {
        metadata: {
          signature_def: { signature_def: Record<string, { inputs: Record<string, { name: string }> }> };
        };
      };
      expect(Object.keys(metadata.metadata.signature_def.signature_def)).toEqual([
        '__saved_model_init_op',
        'serving_default',
      ]);
      expect(metadata.metadata.signature_def.signature_def.serving_default?.inputs.x?.name).toBe(
        'serving_default_x:0',
      );
    } finally {
      await emulator.stop();
    }
  });

  it('are refused, naming the file, when the variables checkpoint is missing', async () => {
    const copy = await mkdtemp(join(tmpdir(), 'tf-serving-python-broken-'));
    try {
      await cp(join(dir, 'tf_module_dense'), join(copy, 'tf_module_dense'), { recursive: true });
      await rm(join(copy, 'tf_module_dense', '1', 'variables'), { recursive: true });
      const emulator = new TfServingEmulator({
        port: 0,
        modelConfig: config(copy, ['tf_module_dense']),
        runner,
        log: () => {},
      });
      const index = join(copy, 'tf_module_dense', '1', 'variables', 'variables.index');
      await expect(emulator.start()).rejects.toMatchObject({
        message: `1 model(s) did not become available: {{{name: tf_module_dense version: 1} due to error: NOT_FOUND: ${index}; No such file or directory}, }`,
      });
    } finally {
      await rm(copy, { recursive: true, force: true });
    }
  });
});
