import { describe, expect, it } from 'vitest';
import { durationMs, rampSpec, sloSpec, stepStages } from './flag-values.js';

describe('flag values', () => {
  it('reads durations, steps, ramps and SLOs', () => {
    expect([durationMs('500ms'), durationMs('2s'), durationMs('1.5m'), durationMs('250')]).toEqual([
      500, 2000, 90_000, 250,
    ]);
    expect(stepStages('50:2s,100:500ms')).toEqual({
      kind: 'step',
      stages: [
        { rate: 50, durationMs: 2000 },
        { rate: 100, durationMs: 500 },
      ],
    });
    expect(rampSpec('10..100:5s')).toEqual({ kind: 'ramp', from: 10, to: 100, durationMs: 5000 });
    expect(sloSpec('p99<=50ms')).toEqual({ percentile: 'p99', ms: 50 });
  });

  it('refuses what it cannot read, saying what it expected', () => {
    expect(() => durationMs('fast')).toThrow('expected a duration such as 500ms');
    expect(() => stepStages('50')).toThrow('expected RATE:DURATION');
    expect(() => sloSpec('p98<1')).toThrow('expected PERCENTILE<=LATENCY');
  });
});
