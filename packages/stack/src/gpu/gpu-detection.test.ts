import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decideGpu, GpuUnavailableError, parseNvidiaSmiList } from './gpu-detection.js';

// Against what a real H100 machine printed (testdata/nvidia-smi, captured on a lent GPU machine).
const nvidiaSmiL = readFileSync(
  new URL('../../testdata/nvidia-smi/nvidia-smi-L.txt', import.meta.url),
  'utf8',
);

describe('GPU detection', () => {
  it('reads the GPUs nvidia-smi -L lists', () => {
    expect(parseNvidiaSmiList(nvidiaSmiL)).toEqual([
      { index: 0, name: 'NVIDIA H100 80GB HBM3', uuid: 'GPU-bd863ffa-5ac1-de06-6651-a823c2e152ae' },
    ]);
    expect(parseNvidiaSmiList('No devices were found\n')).toEqual([]);
  });

  it('uses a GPU in auto and on, never in off, and refuses on without one', () => {
    const gpus = parseNvidiaSmiList(nvidiaSmiL);
    expect(decideGpu('auto', gpus, false)).toMatchObject({
      useGpu: true,
      reason: 'using GPU 0: NVIDIA H100 80GB HBM3',
    });
    expect(decideGpu('on', [], true)).toMatchObject({ useGpu: true });
    expect(decideGpu('off', gpus, true)).toMatchObject({ useGpu: false, reason: 'GPU off (--gpu off)' });
    expect(decideGpu('auto', [], false)).toMatchObject({
      useGpu: false,
      reason: 'no NVIDIA GPU found: CPU image',
    });
    expect(() => decideGpu('on', [], false)).toThrow(GpuUnavailableError);
    expect(() => decideGpu('on', [], false)).toThrow(/^--gpu on, but no NVIDIA GPU was found/);
  });
});
