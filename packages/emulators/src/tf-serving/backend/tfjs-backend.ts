// The tfjs backend the TF Serving emulator computes with: tfjs-node on TensorFlow's own kernels (the
// libtensorflow of the PyPI tensorflow-cpu wheel) where `node scripts/tfjs-node/setup.mjs` has built it, the
// wasm backend everywhere else. tfjs-node is never a dependency of this package: it is loaded by absolute path
// from the setup's cache folder, with its own node_modules, and registers its backend in the one tfjs engine
// that every copy of @tensorflow/tfjs-core shares (the engine, kernel registry and Tensor class are globals).
// So `tf` below is always this package's @tensorflow/tfjs-core, whichever backend runs it.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { PRODUCT_VERSIONS } from '@modelgate/policy';
import * as tf from '@tensorflow/tfjs-core';

export type TfjsBackendName = 'tensorflow' | 'wasm';

/** The folder `node scripts/tfjs-node/setup.mjs` printed; unset: {@link defaultTfjsNodeDir}. */
export const TFJS_NODE_DIR_ENV = 'MODELGATE_TFJS_NODE_DIR';
/** `tensorflow`: tfjs-node or an error (CI, where the setup is cached); `wasm`: always wasm. Overrides `prefer`. */
export const TFJS_BACKEND_ENV = 'MODELGATE_TFJS_BACKEND';
const SETUP_COMMAND = 'node scripts/tfjs-node/setup.mjs';
/** Written last by the setup: a folder without it is unfinished. */
const MARKER_NAME = '.modelgate-setup';
const PLATFORM_ALREADY_SET = 'Platform node has already been set';

/** One input or output of a SavedModel signature, as tfjs-node describes it. */
export interface SavedModelTensorInfo {
  name: string;
  shape?: number[];
  dtype: string;
  tfDtype: string;
}

/** The part of tfjs-node's TFSavedModel the emulator uses (typed here so that tfjs-node's types are not needed). */
export interface TfjsSavedModel {
  readonly inputs: SavedModelTensorInfo[];
  readonly outputs: SavedModelTensorInfo[];
  predict(inputs: tf.Tensor | tf.Tensor[] | tf.NamedTensorMap): tf.Tensor | tf.Tensor[] | tf.NamedTensorMap;
  dispose(): void;
}

export type LoadSavedModel = (dir: string, tags?: string[], signature?: string) => Promise<TfjsSavedModel>;

export interface LoadTfjsOptions {
  /** Default `tensorflow`: tfjs-node when its setup is found, else wasm. MODELGATE_TFJS_BACKEND overrides it. */
  prefer?: TfjsBackendName;
  /** Gets exactly one line: the chosen backend and why. Default: stderr. */
  log?: (line: string) => void;
  /** Where MODELGATE_* are read; default process.env. */
  env?: Record<string, string | undefined>;
}

export interface LoadedTfjs {
  /** This package's @tensorflow/tfjs-core, its backend set. */
  tf: typeof tf;
  backend: TfjsBackendName;
  /** tfjs-node's tf.node.loadSavedModel (TensorFlow's own SavedModel loader); only on the tensorflow backend. */
  loadSavedModel?: LoadSavedModel;
  /** The setup folder tfjs-node came from. */
  tfjsNodeDir?: string;
}

/** What the setup writes in its marker (the fields read here). */
interface SetupMarker {
  tfjsNode: string;
  tensorflow: string;
  nodeAbi: string;
  package: string;
  binding: string;
}

export interface TfjsNodeSetup {
  /** The setup folder (MODELGATE_TFJS_NODE_DIR or the default). */
  dir: string;
  /** Whether the folder was named by MODELGATE_TFJS_NODE_DIR rather than found at the default path. */
  explicit: boolean;
  /** The finished setup's package folder, absent when the folder holds no finished setup. */
  packageDir?: string;
  /** Why there is no usable setup in `dir`. */
  problem?: string;
}

interface TfjsNodeModule {
  version: Record<string, string | undefined>;
  node: { loadSavedModel: LoadSavedModel };
}

type Env = Record<string, string | undefined>;

/** ${MODELGATE_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/modelgate}, as the setup scripts use it. */
export function modelgateCacheDir(env: Env = process.env): string {
  return resolve(
    env.MODELGATE_CACHE_DIR || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'modelgate'),
  );
}

/** Where the setup puts tfjs-node for the pinned versions and this Node's ABI (what `setup.mjs --print-dir` prints). */
export function defaultTfjsNodeDir(env: Env = process.env): string {
  const key = `tfjs-node-${PRODUCT_VERSIONS.tfjs}-tf-${PRODUCT_VERSIONS.tensorflow}-node-abi${process.versions.modules}`;
  return join(modelgateCacheDir(env), key);
}

/** The tfjs-node setup this process would use, finished or not (no loading). */
export function findTfjsNodeSetup(env: Env = process.env): TfjsNodeSetup {
  const named = env[TFJS_NODE_DIR_ENV];
  const dir = named ? resolve(named) : defaultTfjsNodeDir(env);
  const where = { dir, explicit: Boolean(named) };
  let marker: SetupMarker;
  try {
    marker = JSON.parse(readFileSync(join(dir, MARKER_NAME), 'utf8')) as SetupMarker;
  } catch {
    return { ...where, problem: `no finished tfjs-node setup in ${dir}` };
  }
  const wanted = { tfjsNode: PRODUCT_VERSIONS.tfjs, tensorflow: PRODUCT_VERSIONS.tensorflow };
  if (marker.tfjsNode !== wanted.tfjsNode || marker.tensorflow !== wanted.tensorflow) {
    return {
      ...where,
      problem: `${dir} holds tfjs-node ${marker.tfjsNode} on TensorFlow ${marker.tensorflow}, not ${wanted.tfjsNode} on ${wanted.tensorflow}`,
    };
  }
  if (marker.nodeAbi !== process.versions.modules) {
    return {
      ...where,
      problem: `${dir} was built for Node ABI ${marker.nodeAbi}, this is ${process.versions.modules}`,
    };
  }
  const packageDir = join(dir, marker.package);
  if (!existsSync(join(packageDir, marker.binding))) {
    return { ...where, problem: `${dir} lacks ${marker.package}/${marker.binding}` };
  }
  return { ...where, packageDir };
}

const requireFromHere = createRequire(import.meta.url);

function requireTfjsNode(packageDir: string): TfjsNodeModule {
  // TensorFlow's C++ INFO and WARNING lines (one per SavedModel load) stay quiet unless asked for.
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
  // tfjs-node's own copy of tfjs-core announces that it sets the platform this package's copy already set.
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].startsWith(PLATFORM_ALREADY_SET)) return;
    warn.apply(console, args);
  };
  try {
    return requireFromHere(packageDir) as TfjsNodeModule;
  } finally {
    console.warn = warn;
  }
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
}

async function useTfjsNode(setup: TfjsNodeSetup & { packageDir: string }): Promise<LoadedTfjs> {
  const node = requireTfjsNode(setup.packageDir);
  const theirs = node.version['tfjs-core'];
  if (theirs !== tf.version_core) {
    throw new Error(
      `its tfjs-core is ${theirs}, this package's is ${tf.version_core}; they must be the same`,
    );
  }
  if (!(await tf.setBackend('tensorflow'))) throw new Error('the tensorflow backend did not initialise');
  await tf.ready();
  if (tf.getBackend() !== 'tensorflow') throw new Error(`the backend is ${tf.getBackend()}, not tensorflow`);
  return {
    tf,
    backend: 'tensorflow',
    loadSavedModel: (dir, tags = ['serve'], signature = 'serving_default') =>
      node.node.loadSavedModel(dir, tags, signature),
    tfjsNodeDir: setup.dir,
  };
}

async function useWasm(): Promise<LoadedTfjs> {
  await import('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend did not initialise');
  await tf.ready();
  return { tf, backend: 'wasm' };
}

/**
 * Sets this package's tfjs-core to the best backend available and says which, in one line: tfjs-node from
 * the setup cache when it is there (or demanded), the wasm backend otherwise. Rejects when tfjs-node is
 * demanded (MODELGATE_TFJS_BACKEND=tensorflow, or MODELGATE_TFJS_NODE_DIR names a folder) and cannot be had.
 */
export async function loadTfjs(options: LoadTfjsOptions = {}): Promise<LoadedTfjs> {
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const forced = env[TFJS_BACKEND_ENV] || undefined;
  if (forced !== undefined && forced !== 'tensorflow' && forced !== 'wasm') {
    throw new Error(`${TFJS_BACKEND_ENV}=${forced}: expected tensorflow or wasm`);
  }
  const wanted = forced ?? options.prefer ?? 'tensorflow';
  let why: string;
  if (wanted === 'tensorflow') {
    const setup = findTfjsNodeSetup(env);
    const demanded = forced === 'tensorflow' || setup.explicit;
    const source =
      forced === 'tensorflow' ? `${TFJS_BACKEND_ENV}=tensorflow` : `${TFJS_NODE_DIR_ENV}=${setup.dir}`;
    if (setup.packageDir !== undefined) {
      try {
        const loaded = await useTfjsNode({ ...setup, packageDir: setup.packageDir });
        log(
          `tfjs backend: tensorflow (tfjs-node ${PRODUCT_VERSIONS.tfjs} on TensorFlow ${PRODUCT_VERSIONS.tensorflow}, from ${setup.dir})`,
        );
        return loaded;
      } catch (error) {
        why = `tfjs-node in ${setup.dir} did not load: ${firstLine(error)}`;
        if (demanded) throw new Error(`${source}, but ${why} (redo it: ${SETUP_COMMAND} --force)`);
      }
    } else {
      why = `${setup.problem}; \`${SETUP_COMMAND}\` sets it up`;
      if (demanded) throw new Error(`${source}, but ${setup.problem} (run \`${SETUP_COMMAND}\` first)`);
    }
  } else {
    why = forced === 'wasm' ? `${TFJS_BACKEND_ENV}=wasm` : 'asked for';
  }
  const loaded = await useWasm();
  log(`tfjs backend: wasm (${why})`);
  return loaded;
}
