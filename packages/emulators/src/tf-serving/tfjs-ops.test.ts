import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { TFJS_CONVERTER_OPS } from './tfjs-ops.js';

describe('the ops the tfjs graph runner accepts', () => {
  it('are exactly the op mappers of the installed tfjs-converter', async () => {
    const bundle = await readFile(
      createRequire(import.meta.url).resolve('@tensorflow/tfjs-converter'),
      'utf8',
    );
    const installed = new Set([...bundle.matchAll(/'tfOpName': '(\w+)'/g)].map((match) => match[1]));
    expect(installed.size).toBeGreaterThan(200);
    expect([...TFJS_CONVERTER_OPS].sort()).toEqual([...installed].sort());
  });
});
