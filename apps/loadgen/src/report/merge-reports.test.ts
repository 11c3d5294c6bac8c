import { describe, expect, it } from 'vitest';
import { summarize } from '../engine/latency-histogram.js';
import { OK } from '../engine/request-outcome.js';
import { RunRecorder } from '../engine/run-recorder.js';
import type { LoadReport } from './load-report.js';
import { MergeError, mergeReports } from './merge-reports.js';
import { testReport } from './testing/test-report.js';

const report = (recorder: RunRecorder, scenario: LoadReport['scenario'] = 'throughput'): LoadReport =>
  testReport(recorder, { report: { scenario } });

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
