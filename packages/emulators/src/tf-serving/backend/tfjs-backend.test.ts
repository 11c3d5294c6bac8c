import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { tensorflowPython } from '@modelgate/policy';
import type { Tensor } from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultTfjsNodeDir, findTfjsNodeSetup, loadTfjs } from './tfjs-backend.js';

// tfjs-node from the setup cache (`node scripts/tfjs-node/setup.mjs`). Where that setup is present, or where
// MODELGATE_TFJS_BACKEND=tensorflow demands it (CI, once the setup step has run), these tests must find the
// tensorflow backend and run a SavedModel made by Python TensorFlow through tf.node.loadSavedModel. Where it
// is absent they fail, saying how to set it up (`pnpm test` needs it, as it needs the TensorFlow venv);
// tfjs-backend-wasm.test.ts covers the fallback by forcing the wasm backend.

const run = promisify(execFile);
const SETUP_SCRIPT = fileURLToPath(new URL('../../../../../scripts/tfjs-node/setup.mjs', import.meta.url));
const setup = findTfjsNodeSetup();
const scratch: string[] = [];

afterAll(async () => {
  for (const dir of scratch) await rm(dir, { recursive: true, force: true });
});

/** y = 0.5x + 2 as a tf.Module with a serving_default signature, saved by the pinned Python TensorFlow. */
async function writeHalfPlusTwo(): Promise<string> {
  const python = tensorflowPython();
  const dir = await mkdtemp(join(tmpdir(), 'modelgate-tfjs-node-'));
  scratch.push(dir);
  const script = join(dir, 'half_plus_two.py');
  await writeFile(
    script,
    [
      'import sys',
      'import tensorflow as tf',
      '',
      'class HalfPlusTwo(tf.Module):',
      "    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name='x')])",
      '    def serve(self, x):',
      "        return {'y': 0.5 * x + 2.0}",
      '',
      'model = HalfPlusTwo()',
      "tf.saved_model.save(model, sys.argv[1], signatures={'serving_default': model.serve})",
      '',
    ].join('\n'),
  );
  const saved = join(dir, 'half_plus_two', '1');
  await run(python, [script, saved], { env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' } });
  return saved;
}

describe('the setup contract', () => {
  it('looks where `setup.mjs --print-dir` says the setup goes', async () => {
    const { stdout } = await run(process.execPath, [SETUP_SCRIPT, '--print-dir']);
    expect(stdout.trim()).toBe(defaultTfjsNodeDir());
  });
});

describe('tfjs-node from the setup cache', () => {
  it('is set up (node scripts/tfjs-node/setup.mjs)', () => {
    expect(
      setup.packageDir,
      `no finished tfjs-node setup in ${defaultTfjsNodeDir()}: run \`node scripts/tfjs-node/setup.mjs\` from the repo root`,
    ).toBeDefined();
  });

  it('is the backend, and runs a Python-made SavedModel through tf.node.loadSavedModel', async () => {
    const lines: string[] = [];
    const { tf, backend, loadSavedModel, tfjsNodeDir } = await loadTfjs({ log: (line) => lines.push(line) });
    expect(backend).toBe('tensorflow');
    expect(tf.getBackend()).toBe('tensorflow');
    expect(tfjsNodeDir).toBe(setup.dir);
    expect(lines).toEqual([
      expect.stringMatching(/^tfjs backend: tensorflow \(tfjs-node 4\.22\.0 on TensorFlow /),
    ]);
    if (!loadSavedModel) throw new Error('no loadSavedModel on the tensorflow backend');

    const model = await loadSavedModel(await writeHalfPlusTwo(), ['serve'], 'serving_default');
    try {
      expect(model.inputs.map((input) => input.dtype)).toEqual(['float32']);
      const x = tf.tensor1d([0, 2, 10]);
      const out = model.predict(x);
      const y = (out instanceof tf.Tensor ? out : (out as Record<string, Tensor>).y) as Tensor;
      expect(Array.from(await y.data())).toEqual([2, 3, 7]);
      // Tensors from this package's tfjs-core and tfjs-node's results mix freely: one engine.
      expect(Array.from(await tf.sub(y, x).data())).toEqual([2, 1, -3]);
      tf.dispose([x, y]);
    } finally {
      model.dispose();
    }
  }, 120_000);

  it('runs ops that 4.22.0 broke on Node 23+ (util.isNullOrUndefined), without deprecation warnings', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.message);
    process.on('warning', onWarning);
    try {
      const { tf } = await loadTfjs({ log: () => {} });
      const { values, indices } = tf.topk(tf.tensor1d([1, 5, 3]), 2);
      expect(Array.from(await values.data())).toEqual([5, 3]);
      expect(Array.from(await indices.data())).toEqual([1, 2]);
      const product = tf.matMul(tf.ones([2, 3]), tf.ones([3, 2]));
      expect(Array.from(await product.data())).toEqual([3, 3, 3, 3]);
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  }, 60_000);
});
