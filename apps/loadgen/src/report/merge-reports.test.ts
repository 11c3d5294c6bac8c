import { describe, expect, it } from 'vitest';
import { summarize } from '../engine/latency-histogram.js';
import { OK } from '../engine/request-outcome.js';
import { RunRecorder } from '../engine/run-recorder.js';
import { pointResult } from '../scenarios/point-result.js';
import type { LoadReport } from './load-report.js';
import { MergeError, mergeReports } from './merge-reports.js';

function report(recorder: RunRecorder, scenario: LoadReport['scenario'] = 'throughput'): LoadReport {
  const measurement = {
    recorder,
    health: { cpuShare: 0.3, eventLoopLagMs: { p50: 1, p99: 2, max: 3 } },
    generatorLimited: false,
    generatorLimitReasons: [],
    startedAt: '2026-12-03T08:00:00.000Z',
    endedAt: '2026-12-03T08:00:02.000Z',
  };
  const point = pointResult(recorder, [measurement], {
    label: 'batch=1 rate=100',
    arm: null,
    transport: 'grpc',
    batchSize: 1,
    load: { kind: 'open', schedule: 'constant', rate: 100 },
    durationMs: 2000,
    workers: 1,
    trials: 1,
  });
  return {
    schemaVersion: 1,
    tool: { name: '@modelgate/loadgen', version: '0.1.0', engine: 'node' },
    scenario,
    parameters: {},
    target: { kind: 'bare', source: 'target grpc://ms:8500', provider: null },
    startedAt: '2026-12-03T08:00:00.000Z',
    endedAt: '2026-12-03T08:00:02.000Z',
    results: [point],
    unavailableArms: [],
    deltas: [],
    search: null,
    telemetry: { prometheus: [], gpu: [], gpuNote: 'none' },
    thresholds: [],
  };
}

describe('mergeReports', () => {
  it('merges the same scenario from two machines exactly: the percentiles of all requests, rates summed', () => {
    const options = { warmupMs: 0, windowMs: 1000, lateThresholdMs: 2 };
    const whole = new RunRecorder(options);
    const parts = [new RunRecorder(options), new RunRecorder(options)];
    for (let i = 0; i < 400; i++) {
      // one machine saw the slow requests, the other the fast ones
      const latency = i % 2 === 0 ? 2 + (i % 7) : 40 + (i % 13);
      for (const recorder of [whole, parts[i % 2] as RunRecorder]) {
        recorder.recordSend(i * 5, 0);
        recorder.recordCompletion(i * 5, latency, latency, OK);
      }
    }
    const merged = mergeReports(
      parts.map((part) => report(part)),
      ['a.json', 'b.json'],
    );
    const [point] = merged.results;
    expect(point?.requests).toBe(400);
    expect(point?.achievedRps).toBe(200);
    // the same figures as one machine that saw every request (both through the report's histogram encoding,
    // which keeps HdrHistogram's 3 significant digits: the max is its bucket's highest equivalent value)
    expect(point?.latencyMs).toEqual(mergeReports([report(whole)], ['whole.json']).results[0]?.latencyMs);
    expect(point?.latencyMs.p99).toBe(summarize(whole.fromIntended).p99);
    expect(point?.windows.map((w) => w.requests)).toEqual([200, 200]);
    expect(merged.parameters.mergedFrom).toEqual(['a.json', 'b.json']);
  });

  it('refuses to merge different scenarios, naming the files', () => {
    const recorder = new RunRecorder({ warmupMs: 0, windowMs: 1000, lateThresholdMs: 2 });
    expect(() =>
      mergeReports([report(recorder), report(recorder, 'auth-overhead')], ['a.json', 'b.json']),
    ).toThrow(new MergeError('b.json: scenario auth-overhead, but a.json ran throughput'));
  });
});
