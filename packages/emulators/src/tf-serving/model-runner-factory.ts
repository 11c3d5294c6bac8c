import type { ModelRunner } from './model-runner.js';
import { type TfjsCore, TfjsGraphRunner } from './tfjs-graph-runner.js';
import { type LoadSavedModel, TfjsNodeSavedModelRunner } from './tfjs-node-saved-model-runner.js';

/**
 * The shape of `loadTfjs` from `./backend/tfjs-backend.ts`: it sets tfjs-core's backend to tfjs-node (TensorFlow's
 * C library, from its setup cache) or wasm and says which, with tfjs-node's `loadSavedModel` on the former.
 * Passing it to `createModelRunner` is the whole wiring of the native backend: 'tensorflow' gets the
 * SavedModel runner, 'wasm' the graph runner.
 */
export type TfjsLoader = (options?: {
  prefer?: 'tensorflow' | 'wasm';
  log?: (line: string) => void;
}) => Promise<{ tf: TfjsCore; backend: 'tensorflow' | 'wasm'; loadSavedModel?: LoadSavedModel }>;

export interface ModelRunnerOptions {
  /** Which engine to ask for; defaults to the loader's choice, or wasm without a loader. */
  prefer?: 'tensorflow' | 'wasm' | 'cpu';
  /** The native-capable loader; without it only tfjs's own wasm and cpu backends are used. */
  loadTfjs?: TfjsLoader;
  log?: (line: string) => void;
}

/** tfjs-core with the wasm or cpu backend registered and selected (tfjs's engine is process-wide). */
export async function loadPureTfjs(backend: 'wasm' | 'cpu'): Promise<{ tf: TfjsCore; detail: string }> {
  const tf = await import('@tensorflow/tfjs-core');
  if (backend === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  else await import('@tensorflow/tfjs-backend-cpu');
  if (!(await tf.setBackend(backend))) throw new Error(`tfjs could not initialise its ${backend} backend`);
  await tf.ready();
  if (backend === 'cpu') return { tf, detail: '' };
  const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) ? 'SIMD' : 'no SIMD';
  const threads = (await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')) ? 'threads' : '1 thread';
  return { tf, detail: `${simd}, ${threads}` };
}

/** The runner for the engine at hand: tfjs-node when the loader provides it, else tfjs wasm (or cpu). */
export async function createModelRunner(options: ModelRunnerOptions = {}): Promise<ModelRunner> {
  const { prefer, loadTfjs, log } = options;
  if (loadTfjs && prefer !== 'cpu') {
    const loaded = await loadTfjs({ ...(prefer === undefined ? {} : { prefer }), ...(log ? { log } : {}) });
    if (loaded.backend === 'tensorflow' && loaded.loadSavedModel) {
      return new TfjsNodeSavedModelRunner(loaded.tf, loaded.loadSavedModel);
    }
    return new TfjsGraphRunner(loaded.tf, 'wasm');
  }
  if (prefer === 'tensorflow')
    log?.('tfjs-node is not wired into this build; running on the tfjs wasm backend');
  const backend = prefer === 'cpu' ? 'cpu' : 'wasm';
  const { tf, detail } = await loadPureTfjs(backend);
  return new TfjsGraphRunner(tf, backend, detail);
}
