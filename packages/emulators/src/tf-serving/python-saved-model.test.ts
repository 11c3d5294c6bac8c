import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PRODUCT_VERSIONS } from '@modelgate/policy';
import { describe, expect, it } from 'vitest';
import { createModelRunner } from './model-runner-factory.js';
import { corpusConfig, describeCorpus } from './testing/python-corpus.js';
import { TfServingEmulator } from './tf-serving-emulator.js';

// The corpus of SavedModels exported by Python TensorFlow (scripts/export_python_saved_models.py) served by the
// emulator on the wasm engine, over gRPC and REST, checked against what TensorFlow itself computes for them;
// a model the engine cannot run must be refused at start with UNIMPLEMENTED naming the op. The same corpus
// runs on tfjs-node in python-saved-model-tfjs-node.test.ts. This test never skips: without the pinned
// TensorFlow it fails and says how to set it up.

const { corpus, runner } = describeCorpus('wasm', () => createModelRunner({ prefer: 'wasm' }), {
  refusedAtStart: {
    float64_math: 'computes in DT_DOUBLE',
    string_lookup: 'op HashTableV2',
    keras_lstm: 'op While',
  },
  refusedValues: { int64_math: 'outside int32' },
});

describe('SavedModels exported by Python TensorFlow', () => {
  it('were written by the pinned TensorFlow', () => {
    expect(corpus().tensorflow).toBe(PRODUCT_VERSIONS.tensorflow);
  });

  it('refuse a model fed serialized tf.Examples at start on wasm, naming the parse op', async () => {
    const emulator = new TfServingEmulator({
      pickFreeGrpcPort: true,
      modelConfig: corpusConfig(corpus().dir, ['example_classifier']),
      runner: runner(),
      log: () => {},
    });
    await expect(emulator.start()).rejects.toMatchObject({
      message: expect.stringMatching(
        /due to error: UNIMPLEMENTED: .* op ParseExample(V2)? \(node .*\) is not supported by tfjs-converter 4\.22/,
      ),
    });
  });

  it('keep every signature in their metadata, __saved_model_init_op included', async () => {
    const emulator = new TfServingEmulator({
      pickFreeGrpcPort: true,
      pickFreeRestPort: true,
      modelConfig: corpusConfig(corpus().dir, ['tf_module_dense']),
      runner: runner(),
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
      await cp(join(corpus().dir, 'tf_module_dense'), join(copy, 'tf_module_dense'), { recursive: true });
      await rm(join(copy, 'tf_module_dense', '1', 'variables'), { recursive: true });
      const emulator = new TfServingEmulator({
        pickFreeGrpcPort: true,
        modelConfig: corpusConfig(copy, ['tf_module_dense']),
        runner: runner(),
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
