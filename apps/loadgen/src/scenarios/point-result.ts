import { encodeHistogram, percentileSpectrum, summarize } from '../engine/latency-histogram.js';
import type { Measurement } from '../engine/measurement.js';
import type { RunRecorder } from '../engine/run-recorder.js';
import { assessStability } from '../engine/stability.js';
import type { PointResult } from '../report/load-report.js';

// One arm or sweep point of a report, from a recorder (merged over workers, blocks or trials).

export interface PointContext {
  label: string;
  arm: string | null;
  transport: 'grpc' | 'rest';
  batchSize: number;
  load: PointResult['load'];
  /** The measured time that the recorder covers (blocks or trials added up), ms. */
  durationMs: number;
  workers: number;
  trials: number;
}

/** The generator's figures over several measurements: the worst of each, every reason given. */
function combinedHealth(measurements: Measurement[]) {
  const max = (pick: (m: Measurement) => number) => Math.max(...measurements.map(pick));
  return {
    health: {
      cpuShare: max((m) => m.health.cpuShare),
      eventLoopLagMs: {
        p50: max((m) => m.health.eventLoopLagMs.p50),
        p99: max((m) => m.health.eventLoopLagMs.p99),
        max: max((m) => m.health.eventLoopLagMs.max),
      },
    },
    reasons: [...new Set(measurements.flatMap((m) => m.generatorLimitReasons))],
  };
}

export function pointResult(
  recorder: RunRecorder,
  measurements: Measurement[],
  context: PointContext,
): PointResult {
  const { health, reasons } = combinedHealth(measurements);
  const seconds = context.durationMs / 1000;
  const windowMs = recorder.options.windowMs;
  const windows = [...recorder.windows.entries()]
    .sort(([a], [b]) => a - b)
    .map(([index, window]) => {
      const figures = summarize(window.histogram);
      return {
        startMs: index * windowMs,
        requests: window.requests,
        errors: window.errors,
        rps: Math.round((window.requests / windowMs) * 1000 * 10) / 10,
        p50: figures.p50,
        p99: figures.p99,
        max: figures.max,
      };
    });
  const achievedRps = Math.round((recorder.completed / seconds) * 10) / 10;
  const stability = assessStability(windows);
  return {
    label: context.label,
    arm: context.arm,
    transport: context.transport,
    batchSize: context.batchSize,
    load: context.load,
    durationMs: context.durationMs,
    requests: recorder.completed,
    ok: recorder.ok,
    errors: Object.fromEntries(recorder.errors),
    expectedRefusals: Object.fromEntries(recorder.expectedRefusals),
    achievedRps,
    inferencesPerSecond: Math.round((recorder.ok / seconds) * context.batchSize * 10) / 10,
    latencyMs: summarize(recorder.fromIntended),
    latencyFromSendMs: summarize(recorder.fromSend),
    latenessMs: summarize(recorder.lateness),
    lateSends: recorder.lateSends,
    droppedSends: recorder.droppedSends,
    kongLatencyMs: {
      proxy: recorder.kongProxy.totalCount > 0 ? summarize(recorder.kongProxy) : null,
      upstream: recorder.kongUpstream.totalCount > 0 ? summarize(recorder.kongUpstream) : null,
    },
    generatorLimited: reasons.length > 0,
    generatorLimitReasons: reasons,
    generator: { ...health, workers: context.workers },
    stability: { ...stability, trials: context.trials },
    windows,
    spectrum: percentileSpectrum(recorder.fromIntended),
    histograms: {
      fromIntended: encodeHistogram(recorder.fromIntended),
      fromSend: encodeHistogram(recorder.fromSend),
    },
  };
}
