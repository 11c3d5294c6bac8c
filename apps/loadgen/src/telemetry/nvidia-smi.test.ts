import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseGpuQueryCsv } from './nvidia-smi.js';

// Against what a real H100 printed (packages/stack/testdata/nvidia-smi, captured on a lent machine).
const testdata = (file: string) =>
  readFileSync(new URL(`../../../../packages/stack/testdata/nvidia-smi/${file}`, import.meta.url), 'utf8');

describe('parseGpuQueryCsv', () => {
  it('reads the header-and-units form, where clocks.sm is printed as clocks.current.sm [MHz]', () => {
    expect(parseGpuQueryCsv(testdata('query-gpu.csv'), 0)).toEqual([
      {
        atMs: 0,
        index: 0,
        name: 'NVIDIA H100 80GB HBM3',
        utilizationGpu: 0,
        utilizationMemory: 0,
        memoryUsedMiB: 0,
        memoryTotalMiB: 81559,
        powerDrawW: 125.19,
        smClockMHz: 405,
        memClockMHz: 2619,
      },
    ]);
  });

  it('reads the noheader,nounits sampling form in query order, [N/A] as null', () => {
    const [sample] = parseGpuQueryCsv(
      '0, NVIDIA H100 80GB HBM3, 37, 12, 4096, 81559, [N/A], 1980, 2619\n',
      200,
    );
    expect(sample).toMatchObject({
      atMs: 200,
      utilizationGpu: 37,
      memoryUsedMiB: 4096,
      powerDrawW: null,
      smClockMHz: 1980,
    });
  });

  it('gives no samples for nvidia-smi refusing a field', () => {
    expect(parseGpuQueryCsv(testdata('bad-field.txt'), 0)).toEqual([]);
  });
});
