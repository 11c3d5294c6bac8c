import type { LoadedServable, ModelRunner } from '../model-runner.js';

/**
 * A runner that records the batch size (dim 0 of the first input) of every run of what it loads, and can
 * hold each run back by `delayMs` so that tests can catch requests in flight.
 */
export function countingRunner(
  inner: ModelRunner,
  options: { delayMs?: number } = {},
): ModelRunner & { batchSizes: number[]; started(runs: number): Promise<void> } {
  const batchSizes: number[] = [];
  const waiters = new Set<{ runs: number; resolve: () => void }>();
  return {
    backend: inner.backend,
    description: `counting ${inner.description}`,
    batchSizes,
    /** Resolves once `runs` runs have started (without a sleep that a loaded machine can outlast). */
    started: (runs) =>
      batchSizes.length >= runs
        ? Promise.resolve()
        : new Promise((resolve) => waiters.add({ runs, resolve })),
    async load(source) {
      const servable = await inner.load(source);
      const counted: LoadedServable = {
        signatures: servable.signatures,
        async run(signatureKey, inputs, outputAliases) {
          batchSizes.push(Object.values(inputs)[0]?.shape[0] ?? 0);
          for (const waiter of waiters) {
            if (batchSizes.length < waiter.runs) continue;
            waiters.delete(waiter);
            waiter.resolve();
          }
          if (options.delayMs) await new Promise((resolve) => setTimeout(resolve, options.delayMs));
          return servable.run(signatureKey, inputs, outputAliases);
        },
        dispose: () => servable.dispose(),
      };
      return counted;
    },
  };
}
