import { execFile, spawn } from 'node:child_process';
import type { GpuSample } from '../report/load-report.js';

// GPU telemetry from nvidia-smi's CSV query (utilisation, memory, power, clocks), sampled during a run where a
// GPU is present. The parser reads both forms nvidia-smi prints: with a header and units (`125.19 W`, `0 %`)
// and `noheader,nounits`; `[N/A]` or `[Not Supported]` become null.

export const GPU_QUERY_FIELDS = [
  'index',
  'name',
  'utilization.gpu',
  'utilization.memory',
  'memory.used',
  'memory.total',
  'power.draw',
  'clocks.sm',
  'clocks.mem',
] as const;

function numberOf(field: string | undefined): number | null {
  if (field === undefined) return null;
  const value = Number.parseFloat(field.trim());
  return Number.isFinite(value) ? value : null;
}

/** One sample per GPU line. `columns` maps a field to its column (from the header, or the query order). */
export function parseGpuQueryCsv(text: string, atMs: number): GpuSample[] {
  const lines = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  if (lines.length === 0) return [];
  const header = lines[0]?.startsWith('index')
    ? (lines.shift() as string).split(',').map((h) => h.trim())
    : null;
  // nvidia-smi renames some fields in its header: clocks.sm -> clocks.current.sm [MHz]
  const column = (field: string, position: number) => {
    if (!header) return position;
    const short = field
      .replace('clocks.', 'clocks.current.')
      .replace('clocks.current.mem', 'clocks.current.memory');
    return header.findIndex((h) => {
      const name = h.replace(/\s*\[.*\]$/, '');
      return name === field || name === short;
    });
  };
  const at = Object.fromEntries(GPU_QUERY_FIELDS.map((field, i) => [field, column(field, i)])) as Record<
    (typeof GPU_QUERY_FIELDS)[number],
    number
  >;
  const samples: GpuSample[] = [];
  for (const line of lines) {
    const cells = line.split(',').map((cell) => cell.trim());
    const cell = (field: (typeof GPU_QUERY_FIELDS)[number]) =>
      at[field] >= 0 ? cells[at[field]] : undefined;
    const index = numberOf(cell('index'));
    // an error message (a refused field, a driver problem) is not a GPU line
    if (index === null || !/^\d+$/.test(cell('index') ?? '')) continue;
    samples.push({
      atMs,
      index,
      name: cell('name') ?? '',
      utilizationGpu: numberOf(cell('utilization.gpu')),
      utilizationMemory: numberOf(cell('utilization.memory')),
      memoryUsedMiB: numberOf(cell('memory.used')),
      memoryTotalMiB: numberOf(cell('memory.total')),
      powerDrawW: numberOf(cell('power.draw')),
      smClockMHz: numberOf(cell('clocks.sm')),
      memClockMHz: numberOf(cell('clocks.mem')),
    });
  }
  return samples;
}

/** Whether nvidia-smi answers here (a GPU and its driver). */
export function nvidiaSmiAvailable(): Promise<boolean> {
  return new Promise((resolve) => {
    execFile('nvidia-smi', ['-L'], { timeout: 5_000 }, (error) => resolve(!error));
  });
}

/** Samples every `intervalMs` until stop(); each line of `-lms` output is one GPU at one moment. */
export function sampleGpus(intervalMs: number): { stop(): GpuSample[] } {
  const samples: GpuSample[] = [];
  const started = performance.now();
  const child = spawn(
    'nvidia-smi',
    [
      `--query-gpu=${GPU_QUERY_FIELDS.join(',')}`,
      '--format=csv,noheader,nounits',
      `-lms`,
      String(intervalMs),
    ],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  let buffered = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    samples.push(...parseGpuQueryCsv(lines.join('\n'), Math.round(performance.now() - started)));
  });
  child.on('error', () => undefined);
  return {
    stop() {
      child.kill('SIGTERM');
      return samples;
    },
  };
}
