import { describe, expect, it } from 'vitest';
import { generatorLimitReasons } from './generator-monitor.js';

const calm = { cpuShare: 0.3, eventLoopLagMs: { p50: 1, p99: 2, max: 5 } };

describe('generatorLimitReasons', () => {
  it('marks a run where sends were late or the event loop lagged, naming CPU only beside them', () => {
    expect(generatorLimitReasons(calm, { sent: 1000, late: 0, threads: 1 })).toEqual([]);
    expect(generatorLimitReasons({ ...calm, cpuShare: 1.0 }, { sent: 1000, late: 10, threads: 1 })).toEqual(
      [],
    );
    expect(generatorLimitReasons({ ...calm, cpuShare: 1.0 }, { sent: 1000, late: 80, threads: 1 })).toEqual([
      '8.0% of sends late',
      'generator CPU 100% of 1 core(s)',
    ]);
    expect(
      generatorLimitReasons(
        { ...calm, eventLoopLagMs: { p50: 5, p99: 45, max: 80 } },
        { sent: 10, late: 0, threads: 2 },
      ),
    ).toEqual(['event-loop lag p99 45 ms']);
  });
});
