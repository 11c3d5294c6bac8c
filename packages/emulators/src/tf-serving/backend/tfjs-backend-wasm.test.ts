import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findTfjsNodeSetup, loadTfjs } from './tfjs-backend.js';

// The wasm backend, which needs no setup, and how the loader chooses it. Every call gets its own environment
// (an empty cache), so this file never loads tfjs-node, whatever this machine has set up.

const scratch: string[] = [];

afterAll(async () => {
  for (const dir of scratch) await rm(dir, { recursive: true, force: true });
});

async function emptyCache(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'modelgate-empty-cache-'));
  scratch.push(dir);
  return dir;
}

describe('the wasm backend', () => {
  it('runs y = 0.5x + 2 and a matmul when asked for', async () => {
    const lines: string[] = [];
    const { tf, backend, loadSavedModel } = await loadTfjs({
      prefer: 'wasm',
      env: {},
      log: (line) => lines.push(line),
    });
    expect(backend).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(loadSavedModel).toBeUndefined();
    expect(lines).toEqual(['tfjs backend: wasm (asked for)']);
    const x = tf.tensor1d([0, 2, 10]);
    expect(Array.from(await tf.add(tf.mul(x, 0.5), 2).data())).toEqual([2, 3, 7]);
    const product = tf.matMul(tf.ones([2, 3]), tf.ones([3, 2]));
    expect(Array.from(await product.data())).toEqual([3, 3, 3, 3]);
  });

  it('is the fallback, with one line saying how to get tfjs-node, where the setup has not run', async () => {
    const env = { MODELGATE_CACHE_DIR: await emptyCache() };
    expect(findTfjsNodeSetup(env).packageDir).toBeUndefined();
    const lines: string[] = [];
    const { backend } = await loadTfjs({ env, log: (line) => lines.push(line) });
    expect(backend).toBe('wasm');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^tfjs backend: wasm \(no finished tfjs-node setup in .*node scripts\/tfjs-node\/setup\.mjs/,
    );
  });

  it('follows MODELGATE_TFJS_BACKEND=wasm over prefer', async () => {
    const lines: string[] = [];
    const { backend } = await loadTfjs({
      prefer: 'tensorflow',
      env: { MODELGATE_TFJS_BACKEND: 'wasm' },
      log: (line) => lines.push(line),
    });
    expect(backend).toBe('wasm');
    expect(lines).toEqual(['tfjs backend: wasm (MODELGATE_TFJS_BACKEND=wasm)']);
  });
});

describe('when tfjs-node is demanded but missing', () => {
  it('rejects with MODELGATE_TFJS_BACKEND=tensorflow', async () => {
    const env = { MODELGATE_CACHE_DIR: await emptyCache(), MODELGATE_TFJS_BACKEND: 'tensorflow' };
    await expect(loadTfjs({ env, log: () => {} })).rejects.toThrow(
      /^MODELGATE_TFJS_BACKEND=tensorflow, but no finished tfjs-node setup in .* \(run `node scripts\/tfjs-node\/setup\.mjs` first\)$/,
    );
  });

  it('rejects when MODELGATE_TFJS_NODE_DIR names a folder without a finished setup', async () => {
    const dir = await emptyCache();
    await expect(loadTfjs({ env: { MODELGATE_TFJS_NODE_DIR: dir }, log: () => {} })).rejects.toThrow(
      `MODELGATE_TFJS_NODE_DIR=${dir}, but no finished tfjs-node setup in ${dir}`,
    );
  });

  it('rejects an unknown MODELGATE_TFJS_BACKEND', async () => {
    await expect(loadTfjs({ env: { MODELGATE_TFJS_BACKEND: 'webgl' }, log: () => {} })).rejects.toThrow(
      'MODELGATE_TFJS_BACKEND=webgl: expected tensorflow or wasm',
    );
  });
});
