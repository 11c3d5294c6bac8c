import type { K6Config } from '../../src/k6/k6-config.js';
import type { LoadReport, PointResult } from '../../src/report/load-report.js';

// handleSummary: k6's end-of-test data turned into our report schema, so that a k6 run and a Node engine run
// compare field by field. k6 measures from the actual send only (it has no intended send times), keeps no
// HDR histogram and reports percentiles from its own trend: the report says so.

interface TrendValues {
  avg: number;
  max: number;
  'p(50)': number;
  'p(90)': number;
  'p(99)': number;
  'p(99.9)': number;
  'p(99.99)': number;
}

export interface K6SummaryData {
  state: { testRunDurationMs: number };
  metrics: Record<
    string,
    { type: string; values: Record<string, number>; thresholds?: Record<string, { ok: boolean }> }
  >;
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;

function latencyOf(values: TrendValues | undefined): PointResult['latencyMs'] {
  if (!values) return { p50: 0, p90: 0, p99: 0, p999: 0, p9999: 0, max: 0, mean: 0 };
  return {
    p50: round(values['p(50)']),
    p90: round(values['p(90)']),
    p99: round(values['p(99)']),
    p999: round(values['p(99.9)']),
    p9999: round(values['p(99.99)']),
    max: round(values.max),
    mean: round(values.avg),
  };
}

const count = (data: K6SummaryData, name: string) => data.metrics[name]?.values.count ?? 0;

export function k6Report(
  data: K6SummaryData,
  config: K6Config,
  startedAt: string,
  endedAt: string,
): LoadReport {
  const durationMs = config.blocks * config.blockSeconds * 1000;
  const dropped = count(data, 'dropped_iterations');
  const results: PointResult[] = config.arms.map((arm) => {
    const tag = `{arm:${arm.arm}}`;
    const requests = count(data, `modelgate_requests${tag}`);
    const errors = count(data, `modelgate_errors${tag}`);
    const refusals = count(data, `modelgate_expected_refusals${tag}`);
    const latency = latencyOf(
      data.metrics[`modelgate_latency${tag}`]?.values as unknown as TrendValues | undefined,
    );
    const ok = requests - errors - refusals;
    return {
      label: arm.arm,
      arm: config.scenario === 'auth-overhead' ? arm.arm : null,
      transport: arm.protocol === 'grpc' ? 'grpc' : 'rest',
      batchSize: config.batchSize,
      load: { kind: 'open', schedule: 'constant', rate: config.rate },
      durationMs,
      requests,
      ok,
      errors: (errors > 0 ? { k6: errors } : {}) as Record<string, number>,
      expectedRefusals: (refusals > 0 ? { k6: refusals } : {}) as Record<string, number>,
      achievedRps: Math.round((requests / (durationMs / 1000)) * 10) / 10,
      inferencesPerSecond: Math.round((ok / (durationMs / 1000)) * config.batchSize * 10) / 10,
      latencyMs: latency,
      latencyFromSendMs: latency,
      latenessMs: latencyOf(undefined),
      lateSends: 0,
      droppedSends: dropped,
      kongLatencyMs: { proxy: null, upstream: null },
      generatorLimited: dropped > 0,
      generatorLimitReasons: dropped > 0 ? [`k6 dropped ${dropped} iterations (too few VUs)`] : [],
      generator: { cpuShare: 0, eventLoopLagMs: { p50: 0, p99: 0, max: 0 }, workers: 1 },
      stability: { stable: false, trials: config.blocks, reason: 'k6 keeps no windows' },
      windows: [],
      spectrum: [],
      histograms: { fromIntended: '', fromSend: '' },
    };
  });
  const thresholds = Object.entries(data.metrics).flatMap(([metric, entry]) =>
    Object.entries(entry.thresholds ?? {})
      .filter(([expression]) => config.thresholds.includes(expression))
      .map(([expression, outcome]) => ({
        expression: `${metric}: ${expression}`,
        passed: outcome.ok,
        detail: 'k6 threshold',
      })),
  );
  return {
    schemaVersion: 1,
    tool: { name: '@modelgate/loadgen k6 scripts', version: '0.1.0', engine: 'k6' },
    scenario: config.scenario,
    parameters: {
      rate: config.rate,
      blocks: config.blocks,
      blockSeconds: config.blockSeconds,
      batchSize: config.batchSize,
      note: 'k6 measures latency from the actual send only: latencyMs and latencyFromSendMs are the same figures',
    },
    target: {
      kind: 'stack',
      source: config.arms.map((arm) => `${arm.arm}=${arm.target}`).join(', '),
      provider: null,
    },
    startedAt,
    endedAt,
    results,
    unavailableArms: [],
    deltas: [],
    search: null,
    telemetry: { prometheus: [], gpu: [], gpuNote: 'not collected by the k6 scripts' },
    thresholds,
  };
}
