import { describe, expect, expectTypeOf, it } from 'vitest';
import type { loadTfjs } from './backend/tfjs-backend.js';
import { createModelRunner, type TfjsLoader } from './model-runner-factory.js';
import { TfjsGraphRunner } from './tfjs-graph-runner.js';

describe('choosing the engine', () => {
  it('runs models on tfjs wasm by default', async () => {
    const runner = await createModelRunner();
    expect(runner).toBeInstanceOf(TfjsGraphRunner);
    expect(runner.backend).toBe('wasm');
    expect(runner.description).toMatch(/^tfjs 4\.22\.0 wasm \(/);
  });

  it('says so in one line when asked for tfjs-node without a loader', async () => {
    const lines: string[] = [];
    const runner = await createModelRunner({ prefer: 'tensorflow', log: (line) => lines.push(line) });
    expect(runner.backend).toBe('wasm');
    expect(lines).toEqual(['tfjs-node is not wired into this build; running on the tfjs wasm backend']);
  });

  it("takes the tfjs backend module's loadTfjs as its loader", () => {
    expectTypeOf<typeof loadTfjs>().toExtend<TfjsLoader>();
  });
});
