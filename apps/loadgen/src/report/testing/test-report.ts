import type { RunRecorder } from '../../engine/run-recorder.js';
import { type PointContext, pointResult } from '../../scenarios/point-result.js';
import type { LoadReport } from '../load-report.js';

/**
 * A report of one point measured by `recorder` over two seconds, as the tests of the report writers and of
 * `mergeReports` need one: the point's context and the report's fields can be replaced.
 */
export function testReport(
  recorder: RunRecorder,
  overrides: { point?: Partial<PointContext>; cpuShare?: number; report?: Partial<LoadReport> } = {},
): LoadReport {
  const measurement = {
    recorder,
    health: { cpuShare: overrides.cpuShare ?? 0.3, eventLoopLagMs: { p50: 1, p99: 2, max: 3 } },
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
    ...overrides.point,
  });
  return {
    schemaVersion: 1,
    tool: { name: '@modelgate/loadgen', version: '0.1.0', engine: 'node' },
    scenario: 'throughput',
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
    ...overrides.report,
  };
}
