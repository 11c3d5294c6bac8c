import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_POLICY_INPUT } from '../default-policy.js';
import { loadPolicy, type ModelPolicy, parsePolicy } from '../policy.js';
import { PolicyError } from '../policy-error.js';
import { tensorflowPython } from '../tensorflow-python.js';

// The team's own models: SavedModels written by the pinned Python TensorFlow (Keras 3 model.export() and
// tf.saved_model.save of a tf.Module with a variable), read by the policy as TF Serving base paths. Their
// signatures are held to what TensorFlow itself reads back from the same files (scripts/export_policy_models.py).

const run = promisify(execFile);
const EXPORT_SCRIPT = new URL('../../scripts/export_policy_models.py', import.meta.url).pathname;
const CLI = new URL('../cli.ts', import.meta.url).pathname;
const TSX = new URL('../../node_modules/.bin/tsx', import.meta.url).pathname;

interface TensorFlowSignature {
  inputs: Record<string, { dtype: string; shape: number[] | null }>;
  outputs: Record<string, { dtype: string; shape: number[] | null }>;
}

let dir: string;
let tensorflowSignatures: Record<string, TensorFlowSignature>;

function policyInput(models: unknown[]) {
  return { ...structuredClone(DEFAULT_POLICY_INPUT), models, clients: [{ id: 'app', models: '*' }] };
}

function writePolicy(name: string, models: unknown[]): string {
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify(policyInput(models)));
  return file;
}

function issuesOf(action: () => unknown): { path: string; message: string }[] {
  try {
    action();
  } catch (error) {
    if (error instanceof PolicyError) return error.issues.map(({ path, message }) => ({ path, message }));
    throw error;
  }
  throw new Error('expected a PolicyError');
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'modelgate-path-models-'));
  await run(tensorflowPython(), [EXPORT_SCRIPT, join(dir, 'models')], { timeout: 120_000 });
  tensorflowSignatures = JSON.parse(readFileSync(join(dir, 'models', 'signatures.json'), 'utf8'));
}, 180_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function asTensorFlowSees(model: ModelPolicy, version: number): TensorFlowSignature {
  if (model.source.kind !== 'path') throw new Error(`${model.name} is not a path model`);
  const saved = model.source.savedModels.find((candidate) => candidate.version === version);
  const describe = (list: { alias: string; dtype: string; shape: number[] | null }[]) =>
    Object.fromEntries(list.map((tensor) => [tensor.alias, { dtype: tensor.dtype, shape: tensor.shape }]));
  return {
    inputs: describe(saved?.signature.inputs ?? []),
    outputs: describe(saved?.signature.outputs ?? []),
  };
}

describe('a policy with models of its own', { timeout: 60_000 }, () => {
  it('reads versions and the serving_default signature of Keras and tf.Module exports as TensorFlow does', async () => {
    const policy = await loadPolicy(
      writePolicy('policy.json', [
        { name: 'scorer', source: { path: 'models/keras_scorer' } },
        { name: 'counter', source: { path: 'models/counter' }, versionPolicy: { kind: 'all' } },
      ]),
    );
    const [scorer, counter] = policy.models as [ModelPolicy, ModelPolicy];
    expect(scorer.versions).toEqual([1]);
    expect(counter.versions).toEqual([1, 2]);
    expect(scorer.source).toMatchObject({ kind: 'path', basePath: join(dir, 'models', 'keras_scorer') });
    expect(asTensorFlowSees(scorer, 1)).toEqual(tensorflowSignatures.keras_scorer);
    expect(asTensorFlowSees(counter, 2)).toEqual(tensorflowSignatures.counter);
    expect(asTensorFlowSees(counter, 2).outputs.label).toEqual({ dtype: 'DT_INT64', shape: [-1] });
    if (counter.source.kind === 'path') {
      expect(counter.source.savedModels.map((saved) => saved.signature.methodName)).toEqual([
        'tensorflow/serving/predict',
        'tensorflow/serving/predict',
      ]);
    }
  });

  it('names the model, the path and what is missing when a base path cannot serve', () => {
    mkdirSync(join(dir, 'empty'), { recursive: true });
    mkdirSync(join(dir, 'no-pb', '3'), { recursive: true });
    mkdirSync(join(dir, 'wrong-signature'), { recursive: true });
    cpSync(join(dir, 'models', 'counter', '1'), join(dir, 'wrong-signature', '1'), { recursive: true });
    mkdirSync(join(dir, 'garbage', '1'), { recursive: true });
    writeFileSync(join(dir, 'garbage', '1', 'saved_model.pb'), 'not a protobuf at all');
    const parse = (models: unknown[]) => () => parsePolicy(policyInput(models), 'p.json', { baseDir: dir });
    expect(issuesOf(parse([{ name: 'gone', source: { path: 'nowhere' } }]))).toEqual([
      { path: 'models[0].source.path', message: `model gone: no such folder: ${join(dir, 'nowhere')}` },
    ]);
    expect(issuesOf(parse([{ name: 'empty', source: { path: 'empty' } }]))[0]?.message).toBe(
      `model empty: no version folder in ${join(dir, 'empty')} (TF Serving serves children named by a number, e.g. ${join(dir, 'empty', '1')})`,
    );
    expect(issuesOf(parse([{ name: 'no_pb', source: { path: 'no-pb' } }]))[0]?.message).toBe(
      `model no_pb: version 3 has no SavedModel: ${join(dir, 'no-pb', '3', 'saved_model.pb')} is missing`,
    );
    expect(
      issuesOf(parse([{ name: 'sig', source: { path: 'wrong-signature', signature: 'predict_proba' } }]))[0]
        ?.message,
    ).toBe(
      `model sig: ${join(dir, 'wrong-signature', '1', 'saved_model.pb')} has no signature "predict_proba" (has: __saved_model_init_op, serving_default)`,
    );
    expect(issuesOf(parse([{ name: 'garbage', source: { path: 'garbage' } }]))[0]?.message).toMatch(
      new RegExp(
        `^model garbage: cannot read ${join(dir, 'garbage', '1', 'saved_model.pb')} as a SavedModel: `,
      ),
    );
    expect(
      issuesOf(parse([{ name: 'counter', source: { path: 'models/counter' }, versions: [2, 5] }])),
    ).toEqual([
      {
        path: 'models[0].versions[1]',
        message: `model counter: version 5 is not in ${join(dir, 'models', 'counter')} (found: 1, 2)`,
      },
    ]);
  });

  it('compiles with modelgate-policy: routes for the own models, the plugin, the realm', async () => {
    const file = writePolicy('compile.policy.json', [
      { name: 'scorer', source: { path: 'models/keras_scorer' } },
      { name: 'counter', source: { path: 'models/counter' } },
    ]);
    const secrets = new URL('../../policies/default.secrets.json', import.meta.url).pathname;
    const out = join(dir, 'compiled');
    await run(TSX, [CLI, 'compile', '--policy', file, '--secrets', secrets, '--out', out]);
    const kong = JSON.parse(readFileSync(join(out, 'gateway', 'kong.json'), 'utf8'));
    expect(kong.services[0].routes.map((route: { name: string }) => route.name)).toEqual([
      'rest-scorer',
      'rest-counter',
    ]);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    expect(manifest.files.map((entry: { path: string }) => entry.path)).toContain(
      'kong-plugins/kong/plugins/modelgate-model-access/handler.lua',
    );
    const { stdout } = await run(TSX, [CLI, 'validate', '--policy', file]);
    expect(stdout).toContain('scorer: ');
    expect(stdout).toContain('features DT_FLOAT [-1,4]; ids DT_INT64 [-1,2] -> logits DT_FLOAT [-1,3]');
  });
});
