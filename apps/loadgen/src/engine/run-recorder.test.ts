import { describe, expect, it } from 'vitest';
import { summarize } from './latency-histogram.js';
import { failure, OK } from './request-outcome.js';
import { RunRecorder } from './run-recorder.js';

const options = { warmupMs: 100, windowMs: 1000, lateThresholdMs: 2 };

describe('RunRecorder', () => {
  it('leaves warm-up out, counts late sends, drops, errors by kind and expected refusals apart', () => {
    const recorder = new RunRecorder(options);
    recorder.recordSend(50, 0);
    recorder.recordCompletion(50, 10, 10, OK);
    recorder.recordSend(200, 5);
    recorder.recordCompletion(200, 15, 10, OK);
    recorder.recordDrop(300);
    recorder.recordSend(400, 0);
    recorder.recordCompletion(400, 3, 3, failure('http:503'));
    recorder.recordSend(500, 0);
    recorder.recordCompletion(500, 4, 4, failure('http:401', true));
    expect(recorder).toMatchObject({
      sent: 4,
      completed: 3,
      ok: 1,
      warmupRequests: 1,
      lateSends: 1,
      droppedSends: 1,
    });
    expect(Object.fromEntries(recorder.errors)).toEqual({ 'http:503': 1 });
    expect(Object.fromEntries(recorder.expectedRefusals)).toEqual({ 'http:401': 1 });
    // errors are not latencies; expected refusals are
    expect(recorder.fromIntended.totalCount).toBe(2);
    expect(summarize(recorder.fromIntended).max).toBe(15);
    expect(summarize(recorder.fromSend).max).toBe(10);
  });

  it('merges snapshots exactly: the same histogram as recording everything in one place', () => {
    const whole = new RunRecorder(options);
    const parts = [new RunRecorder(options), new RunRecorder(options), new RunRecorder(options)];
    for (let i = 0; i < 3000; i++) {
      const intended = 100 + i;
      const latency = 1 + ((i * 7919) % 997) / 10;
      for (const recorder of [whole, parts[i % 3] as RunRecorder]) {
        recorder.recordSend(intended, 0);
        recorder.recordCompletion(intended, latency, latency / 2, OK);
      }
    }
    const merged = RunRecorder.fromSnapshots(parts.map((part) => part.snapshot()));
    expect(merged.completed).toBe(3000);
    for (const percentile of [50, 90, 99, 99.9, 100]) {
      expect(merged.fromIntended.getValueAtPercentile(percentile)).toBe(
        whole.fromIntended.getValueAtPercentile(percentile),
      );
    }
    expect(merged.windows.get(2)?.histogram.totalCount).toBe(1000);
    expect(merged.snapshot().fromIntended).toBe(whole.snapshot().fromIntended);
  });
});
