import {
  decodeHistogram,
  encodeHistogram,
  mergeHistograms,
  percentileSpectrum,
  summarize,
} from '../engine/latency-histogram.js';
import type { LatencyMs, LoadReport, PointResult } from './load-report.js';

// Reports of the same scenario run at the same time from several processes or machines, merged into one:
// latency from their HDR histograms, added exactly; counts and rates summed (the parts ran side by side).
// What the reports hold only as summaries cannot be merged exactly and is taken as the worst of the parts:
// each window's p50/p99/max, the lateness percentiles, Kong's latency headers. A/B deltas need the blocks,
// not in a report: they are left out of the merge.

export class MergeError extends Error {
  override readonly name = 'MergeError';
}

const worst = (parts: LatencyMs[]): LatencyMs => ({
  p50: Math.max(...parts.map((p) => p.p50)),
  p90: Math.max(...parts.map((p) => p.p90)),
  p99: Math.max(...parts.map((p) => p.p99)),
  p999: Math.max(...parts.map((p) => p.p999)),
  p9999: Math.max(...parts.map((p) => p.p9999)),
  max: Math.max(...parts.map((p) => p.max)),
  mean: Math.max(...parts.map((p) => p.mean)),
});

const sumCounts = (parts: Record<string, number>[]) => {
  const sum: Record<string, number> = {};
  for (const part of parts) for (const [kind, n] of Object.entries(part)) sum[kind] = (sum[kind] ?? 0) + n;
  return sum;
};

const worstOrNull = (parts: (LatencyMs | null)[]) => {
  const present = parts.filter((part): part is LatencyMs => part !== null);
  return present.length > 0 ? worst(present) : null;
};

function mergePoint(parts: PointResult[], sources: string[]): PointResult {
  const first = parts[0] as PointResult;
  if (parts.some((part) => !part.histograms.fromIntended)) {
    throw new MergeError(
      `${first.label}: a part has no histograms (k6 keeps none): its percentiles cannot be merged`,
    );
  }
  const fromIntended = mergeHistograms(parts.map((part) => decodeHistogram(part.histograms.fromIntended)));
  const fromSend = mergeHistograms(parts.map((part) => decodeHistogram(part.histograms.fromSend)));
  const windows = new Map<number, PointResult['windows'][number]>();
  for (const window of parts.flatMap((part) => part.windows)) {
    const seen = windows.get(window.startMs);
    windows.set(
      window.startMs,
      seen
        ? {
            startMs: window.startMs,
            requests: seen.requests + window.requests,
            errors: seen.errors + window.errors,
            rps: seen.rps + window.rps,
            p50: Math.max(seen.p50, window.p50),
            p99: Math.max(seen.p99, window.p99),
            max: Math.max(seen.max, window.max),
          }
        : { ...window },
    );
  }
  const sum = (pick: (part: PointResult) => number) => parts.reduce((total, part) => total + pick(part), 0);
  const reasons = parts.flatMap((part, i) =>
    part.generatorLimitReasons.map((reason) => `${sources[i]}: ${reason}`),
  );
  return {
    ...first,
    requests: sum((p) => p.requests),
    ok: sum((p) => p.ok),
    errors: sumCounts(parts.map((p) => p.errors)),
    expectedRefusals: sumCounts(parts.map((p) => p.expectedRefusals)),
    achievedRps: Math.round(sum((p) => p.achievedRps) * 10) / 10,
    inferencesPerSecond: Math.round(sum((p) => p.inferencesPerSecond) * 10) / 10,
    latencyMs: summarize(fromIntended),
    latencyFromSendMs: summarize(fromSend),
    latenessMs: worst(parts.map((p) => p.latenessMs)),
    lateSends: sum((p) => p.lateSends),
    droppedSends: sum((p) => p.droppedSends),
    kongLatencyMs: {
      proxy: worstOrNull(parts.map((p) => p.kongLatencyMs.proxy)),
      upstream: worstOrNull(parts.map((p) => p.kongLatencyMs.upstream)),
    },
    generatorLimited: reasons.length > 0,
    generatorLimitReasons: reasons,
    generator: { ...first.generator, workers: sum((p) => p.generator.workers) },
    stability: {
      stable: parts.every((p) => p.stability.stable),
      trials: Math.max(...parts.map((p) => p.stability.trials)),
      reason: parts.map((p, i) => `${sources[i]}: ${p.stability.reason}`).join('; '),
    },
    windows: [...windows.values()].sort((a, b) => a.startMs - b.startMs),
    spectrum: percentileSpectrum(fromIntended),
    histograms: { fromIntended: encodeHistogram(fromIntended), fromSend: encodeHistogram(fromSend) },
  };
}

export function mergeReports(reports: LoadReport[], sources: string[]): LoadReport {
  const first = reports[0];
  if (!first) throw new MergeError('no reports to merge');
  for (const [i, report] of reports.entries()) {
    if (report.scenario !== first.scenario) {
      throw new MergeError(
        `${sources[i]}: scenario ${report.scenario}, but ${sources[0]} ran ${first.scenario}`,
      );
    }
  }
  const labels = [...new Set(reports.flatMap((report) => report.results.map((point) => point.label)))];
  const results = labels.map((label) => {
    const parts: PointResult[] = [];
    const partSources: string[] = [];
    reports.forEach((report, i) => {
      const point = report.results.find((candidate) => candidate.label === label);
      if (point) {
        parts.push(point);
        partSources.push(sources[i] as string);
      }
    });
    return mergePoint(parts, partSources);
  });
  return {
    ...first,
    parameters: { ...first.parameters, mergedFrom: sources },
    target: { ...first.target, source: [...new Set(reports.map((r) => r.target.source))].join(' + ') },
    startedAt: reports.map((r) => r.startedAt).sort()[0] as string,
    endedAt: reports
      .map((r) => r.endedAt)
      .sort()
      .at(-1) as string,
    results,
    deltas: [],
    search: null,
    telemetry: {
      prometheus: reports.flatMap((r) => r.telemetry.prometheus),
      gpu: reports.flatMap((r) => r.telemetry.gpu),
      gpuNote: [...new Set(reports.map((r) => r.telemetry.gpuNote))].join('; '),
    },
    thresholds: [],
  };
}
