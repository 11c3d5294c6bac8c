import type { SignatureDef, Tensor } from '@modelgate/proto';
import type { LoadedServable } from '../model-runner.js';

/** One run a servable was asked for. */
export interface RecordedRun {
  signatureKey: string;
  inputs: Readonly<Record<string, Tensor>>;
  outputAliases: readonly string[];
}

/**
 * A servable that computes `y = 2x` for every float input alias (output alias = input alias + `_doubled`) and
 * records its runs, so that batching tests can count runs and check that each request gets its own rows back.
 */
export function recordingServable(
  options: { delayMs?: number } = {},
): LoadedServable & { runs: RecordedRun[] } {
  const runs: RecordedRun[] = [];
  return {
    runs,
    signatures: {} as Record<string, SignatureDef>,
    async run(signatureKey, inputs, outputAliases) {
      runs.push({ signatureKey, inputs, outputAliases });
      if (options.delayMs) await new Promise((resolve) => setTimeout(resolve, options.delayMs));
      const outputs: Record<string, Tensor> = {};
      for (const alias of outputAliases) {
        const input = inputs[alias.replace(/_doubled$/, '')] as Tensor;
        outputs[alias] = { ...input, values: (input.values as Float32Array).map((v) => 2 * v) } as Tensor;
      }
      return outputs;
    },
    dispose() {},
  };
}
