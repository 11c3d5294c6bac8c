import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { create } from '@bufbuild/protobuf';
import { status } from '@grpc/grpc-js';
import { GOLDEN_TOLERANCE, withinTolerance } from '@modelgate/fixtures';
import { tensorflowPython } from '@modelgate/policy';
import {
  createPromiseClient,
  DataType,
  decodeRestPredictResponse,
  decodeTensor,
  encodeTensor,
  type ModelServerConfig,
  ModelServerConfigSchema,
  type PredictionService,
  PredictionService as PredictionServiceDescriptor,
  type PromiseClient,
  type SupportedDataType,
  type Tensor,
} from '@modelgate/proto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ModelRunner } from '../model-runner.js';
import { TfServingEmulator } from '../tf-serving-emulator.js';

// The corpus of SavedModels that Python TensorFlow exports (scripts/export_python_saved_models.py) and what
// TensorFlow computes for them. Exported once into a cache folder keyed by the script's hash, so CI pays the
// export only when the script changes.

const SCRIPT = fileURLToPath(new URL('../../../scripts/export_python_saved_models.py', import.meta.url));
export const EXPORT_TIMEOUT_MS = 300_000;

type DtypeName = 'float32' | 'float64' | 'int32' | 'int64' | 'string';

export interface CorpusTensor {
  dtype: DtypeName;
  shape: number[];
  /** Row-major; int64 as decimal strings, strings as text. */
  values: (number | string)[];
}

export interface CorpusModel {
  inputs: Record<string, CorpusTensor>;
  outputs: Record<string, CorpusTensor>;
}

/** A model fed serialized tf.Examples (Estimator style), with what TensorFlow answered for the examples. */
export interface ExampleModel {
  /** Each example's float feature `x` (4 values). */
  features: number[][];
  classes: string[][];
  scores: number[][];
  regression: number[];
}

export interface PythonCorpus {
  /** Holds `<model>/1/` for each model. */
  dir: string;
  tensorflow: string;
  models: Record<string, CorpusModel>;
  example_models: { example_classifier: ExampleModel };
}

const DTYPES: Record<DtypeName, SupportedDataType> = {
  float32: DataType.DT_FLOAT,
  float64: DataType.DT_DOUBLE,
  int32: DataType.DT_INT32,
  int64: DataType.DT_INT64,
  string: DataType.DT_STRING,
};

function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.MODELGATE_CACHE_DIR || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'modelgate');
}

function runScript(python: string, out: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(python, [SCRIPT, out], { timeout: EXPORT_TIMEOUT_MS }, (error, _stdout, stderr) =>
      error ? reject(new Error(`${SCRIPT} failed: ${error.message}\n${stderr}`)) : resolve(),
    );
  });
}

/** The corpus, exported by the pinned TensorFlow into `<cache>/python-saved-models-<script hash>` once. */
export async function pythonCorpus(): Promise<PythonCorpus> {
  const hash = createHash('sha256')
    .update(await readFile(SCRIPT))
    .digest('hex')
    .slice(0, 16);
  const dir = join(cacheRoot(), `python-saved-models-${hash}`);
  if (!existsSync(join(dir, 'expected.json'))) {
    const python = tensorflowPython();
    const partial = `${dir}.partial-${process.pid}`;
    await rm(partial, { recursive: true, force: true });
    await mkdir(partial, { recursive: true });
    await runScript(python, partial);
    // Another test file may have finished the same export first: either copy is the same.
    await rename(partial, dir).catch(() => rm(partial, { recursive: true, force: true }));
  }
  const expected = JSON.parse(await readFile(join(dir, 'expected.json'), 'utf8')) as Omit<
    PythonCorpus,
    'dir'
  >;
  return { dir, ...expected };
}

export function corpusConfig(root: string, names: readonly string[]): ModelServerConfig {
  return create(ModelServerConfigSchema, {
    config: {
      case: 'modelConfigList',
      value: {
        config: names.map((name) => ({ name, basePath: join(root, name), modelPlatform: 'tensorflow' })),
      },
    },
  });
}

/** A corpus tensor as the codecs hold it. */
export function corpusTensor(t: CorpusTensor): Tensor {
  const { shape } = t;
  switch (t.dtype) {
    case 'float32':
      return { dtype: DataType.DT_FLOAT, shape, values: Float32Array.from(t.values as number[]) };
    case 'float64':
      return { dtype: DataType.DT_DOUBLE, shape, values: Float64Array.from(t.values as number[]) };
    case 'int32':
      return { dtype: DataType.DT_INT32, shape, values: Int32Array.from(t.values as number[]) };
    case 'int64':
      return { dtype: DataType.DT_INT64, shape, values: BigInt64Array.from(t.values, (v) => BigInt(v)) };
    case 'string':
      return {
        dtype: DataType.DT_STRING,
        shape,
        values: t.values.map((v) => new TextEncoder().encode(String(v))),
      };
  }
}

/** A corpus tensor as TF Serving's JSON writes it: nested lists, int64 digits unquoted. */
function jsonOf(t: CorpusTensor): string {
  const element = (v: number | string) => (t.dtype === 'int64' ? String(v) : JSON.stringify(v));
  const nest = (depth: number, offset: number): string => {
    if (depth === t.shape.length) return element(t.values[offset] as number | string);
    const stride = t.shape.slice(depth + 1).reduce((a, b) => a * b, 1);
    const items = Array.from({ length: t.shape[depth] as number }, (_, i) =>
      nest(depth + 1, offset + i * stride),
    );
    return `[${items.join(',')}]`;
  };
  return nest(0, 0);
}

/** The columnar `:predict` body of a model's inputs. */
export function corpusRestBody(model: CorpusModel): string {
  const entries = Object.entries(model.inputs).map(([alias, t]) => `${JSON.stringify(alias)}:${jsonOf(t)}`);
  return `{"inputs":{${entries.join(',')}}}`;
}

/** Floats within the fixtures' golden tolerance; integers and strings exactly. */
export function expectMatches(actual: Tensor | undefined, want: CorpusTensor, what: string): void {
  expect(actual, what).toBeDefined();
  const got = actual as Tensor;
  expect(got.dtype, what).toBe(DTYPES[want.dtype]);
  expect(got.shape, what).toEqual(want.shape);
  if (want.dtype === 'float32' || want.dtype === 'float64') {
    const result = withinTolerance(got.values as Float32Array, want.values as number[], GOLDEN_TOLERANCE);
    expect(result, what).toMatchObject({ ok: true });
    return;
  }
  expect(got.values, what).toEqual(corpusTensor(want).values);
}

/** Predicts a corpus model over gRPC and over REST, checking every output against TensorFlow's. */
export async function expectCorpusPredictions(
  client: PromiseClient<(typeof PredictionService)['method']>,
  restPort: number,
  name: string,
  model: CorpusModel,
): Promise<void> {
  const response = await client.predict({
    modelSpec: { name },
    inputs: Object.fromEntries(
      Object.entries(model.inputs).map(([alias, t]) => [alias, encodeTensor(corpusTensor(t))]),
    ),
  });
  for (const [alias, want] of Object.entries(model.outputs)) {
    const output = response.outputs[alias];
    expectMatches(output && decodeTensor(output), want, `${name} ${alias} over gRPC`);
  }
  const rest = await fetch(`http://127.0.0.1:${restPort}/v1/models/${name}:predict`, {
    method: 'POST',
    body: corpusRestBody(model),
  });
  const text = await rest.text();
  expect({ status: rest.status, text: rest.status === 200 ? '' : text }, `${name} over REST`).toEqual({
    status: 200,
    text: '',
  });
  const outputs = decodeRestPredictResponse(
    text,
    Object.fromEntries(Object.entries(model.outputs).map(([alias, t]) => [alias, DTYPES[t.dtype]])),
  ).outputs;
  for (const [alias, want] of Object.entries(model.outputs)) {
    expectMatches(outputs[alias], want, `${name} ${alias} over REST`);
  }
}

/** The corpus's model names, as the export script writes them. */
export const CORPUS_MODELS = [
  'tf_module_dense',
  'keras_mlp',
  'keras_functional_multi',
  'argmax_classifier',
  'keras_convnet',
  'keras_embedding',
  'float64_math',
  'int64_math',
  'string_lookup',
  'keras_lstm',
] as const;

export type CorpusModelName = (typeof CORPUS_MODELS)[number];

/** What an engine cannot do with the corpus, each with the words its refusal must contain. */
export interface CorpusLimits {
  /** Models refused at start with UNIMPLEMENTED naming the op. */
  refusedAtStart?: Readonly<Partial<Record<CorpusModelName, string>>>;
  /** Models whose corpus request holds values the engine cannot represent: INVALID_ARGUMENT, never another value. */
  refusedValues?: Readonly<Partial<Record<CorpusModelName, string>>>;
}

/**
 * The corpus on one engine: every model answers over gRPC and REST as TensorFlow computed it, except those the
 * engine refuses, at start (UNIMPLEMENTED naming the op) or for values it cannot represent (INVALID_ARGUMENT).
 */
export function describeCorpus(
  engine: string,
  createRunner: () => Promise<ModelRunner>,
  limits: CorpusLimits = {},
): { corpus: () => PythonCorpus; runner: () => ModelRunner } {
  const refused = limits.refusedAtStart ?? {};
  const refusedValues = limits.refusedValues ?? {};
  let corpus: PythonCorpus;
  let runner: ModelRunner;
  beforeAll(async () => {
    corpus = await pythonCorpus();
    runner = await createRunner();
  }, EXPORT_TIMEOUT_MS + 10_000);

  /** Serves one corpus model over gRPC and REST for the length of `use`, then stops. */
  async function servingOne(
    name: CorpusModelName,
    use: (
      client: PromiseClient<(typeof PredictionService)['method']>,
      restPort: number,
      model: CorpusModel,
    ) => Promise<void>,
  ): Promise<void> {
    const model = corpus.models[name];
    if (!model) throw new Error(`expected.json has no ${name}`);
    const emulator = new TfServingEmulator({
      pickFreeGrpcPort: true,
      pickFreeRestPort: true,
      modelConfig: corpusConfig(corpus.dir, [name]),
      runner,
      log: () => {},
    });
    const { grpcPort, restPort } = await emulator.start();
    const client = createPromiseClient(PredictionServiceDescriptor, `localhost:${grpcPort}`);
    try {
      await use(client, restPort as number, model);
    } finally {
      client.close();
      await emulator.stop();
    }
  }

  describe(`the Python-exported corpus on ${engine}`, () => {
    it('covers every model of the export script', () => {
      expect(Object.keys(corpus.models).sort()).toEqual([...CORPUS_MODELS].sort());
    });

    const refusedNames = CORPUS_MODELS.filter((name) => refused[name] !== undefined);
    it.each(refusedNames)('refuses %s at start with UNIMPLEMENTED naming the op', async (name) => {
      const emulator = new TfServingEmulator({
        pickFreeGrpcPort: true,
        modelConfig: corpusConfig(corpus.dir, [name]),
        runner,
        log: () => {},
      });
      const failure = await emulator.start().then(
        () => emulator.stop().then(() => undefined),
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(Error);
      const message = (failure as Error).message;
      expect(message).toContain(`{name: ${name} version: 1} due to error: UNIMPLEMENTED: `);
      expect(message).toContain(refused[name] as string);
    });

    const valueNames = CORPUS_MODELS.filter((name) => refusedValues[name] !== undefined);
    it.each(valueNames)('refuses the values of %s it cannot represent with INVALID_ARGUMENT', (name) =>
      servingOne(name, async (client, restPort, model) => {
        await expect(
          client.predict({
            modelSpec: { name },
            inputs: Object.fromEntries(
              Object.entries(model.inputs).map(([alias, t]) => [alias, encodeTensor(corpusTensor(t))]),
            ),
          }),
        ).rejects.toMatchObject({
          code: status.INVALID_ARGUMENT,
          details: expect.stringContaining(refusedValues[name] as string),
        });
        const rest = await fetch(`http://127.0.0.1:${restPort}/v1/models/${name}:predict`, {
          method: 'POST',
          body: corpusRestBody(model),
        });
        expect({ status: rest.status, body: await rest.text() }).toEqual({
          status: 400,
          body: expect.stringContaining(refusedValues[name] as string),
        });
      }),
    );

    const served = CORPUS_MODELS.filter(
      (name) => refused[name] === undefined && refusedValues[name] === undefined,
    );
    it.each(served)('serves %s over gRPC and REST as TensorFlow computes it', (name) =>
      servingOne(name, (client, restPort, model) => expectCorpusPredictions(client, restPort, name, model)),
    );
  });
  return { corpus: () => corpus, runner: () => runner };
}
