import type { PointResult } from './load-report.js';

// `--fail-if` thresholds: `p99>50ms`, `send.p99>40ms`, `errors>1%`, `rps<500`, `ips<2000`, `dropped>0`,
// `late>1%`, `generator-limited`; optionally scoped to one arm or point (`full-policy:p99>20ms`). Each is checked
// against every result it applies to; any that holds fails the run (exit code 3).

export type ThresholdMetric =
  | 'p50'
  | 'p90'
  | 'p99'
  | 'p999'
  | 'max'
  | 'send.p50'
  | 'send.p99'
  | 'errors'
  | 'rps'
  | 'ips'
  | 'dropped'
  | 'late'
  | 'generator-limited';

export interface Threshold {
  expression: string;
  scope: string | null;
  metric: ThresholdMetric;
  op: '>' | '<' | '>=' | '<=';
  value: number;
  percent: boolean;
}

export class ThresholdError extends Error {
  override readonly name = 'ThresholdError';
}

const METRICS = new Set<string>([
  'p50',
  'p90',
  'p99',
  'p999',
  'max',
  'send.p50',
  'send.p99',
  'errors',
  'rps',
  'ips',
  'dropped',
  'late',
]);

export function parseThreshold(expression: string): Threshold {
  const scoped = /^(?:([\w.=\s-]+):)?(.+)$/.exec(expression.trim()) as RegExpExecArray;
  const scope = scoped[1]?.trim() ?? null;
  const body = (scoped[2] as string).trim();
  if (body === 'generator-limited') {
    return { expression, scope, metric: 'generator-limited', op: '>', value: 0, percent: false };
  }
  const match = /^([a-z0-9.]+)\s*(>=|<=|>|<)\s*([0-9.]+)\s*(ms|s|%)?$/.exec(body);
  if (!match || !METRICS.has(match[1] as string)) {
    throw new ThresholdError(
      `--fail-if ${JSON.stringify(expression)}: expected METRIC OP VALUE such as p99>50ms, errors>1%, rps<500 (metrics: ${[...METRICS].join(', ')}, generator-limited)`,
    );
  }
  const [, metric, op, number, unit] = match as unknown as [
    string,
    ThresholdMetric,
    Threshold['op'],
    string,
    string?,
  ];
  const value = Number(number) * (unit === 's' ? 1000 : 1);
  return { expression, scope, metric, op, value, percent: unit === '%' };
}

function observed(threshold: Threshold, point: PointResult): number {
  const share = (count: number) => (threshold.percent ? (count / Math.max(1, point.requests)) * 100 : count);
  switch (threshold.metric) {
    case 'send.p50':
      return point.latencyFromSendMs.p50;
    case 'send.p99':
      return point.latencyFromSendMs.p99;
    case 'errors':
      return share(Object.values(point.errors).reduce((a, b) => a + b, 0));
    case 'rps':
      return point.achievedRps;
    case 'ips':
      return point.inferencesPerSecond;
    case 'dropped':
      return share(point.droppedSends);
    case 'late':
      return share(point.lateSends);
    case 'generator-limited':
      return point.generatorLimited ? 1 : 0;
    default:
      return point.latencyMs[threshold.metric];
  }
}

function holds(op: Threshold['op'], left: number, right: number): boolean {
  if (op === '>') return left > right;
  if (op === '<') return left < right;
  if (op === '>=') return left >= right;
  return left <= right;
}

export function checkThresholds(
  thresholds: Threshold[],
  results: PointResult[],
): { expression: string; passed: boolean; detail: string }[] {
  return thresholds.map((threshold) => {
    const applies = results.filter((point) => threshold.scope === null || point.label === threshold.scope);
    if (applies.length === 0) {
      return {
        expression: threshold.expression,
        passed: false,
        detail: `no result named ${threshold.scope}`,
      };
    }
    const failing = applies.filter((point) =>
      holds(threshold.op, observed(threshold, point), threshold.value),
    );
    return {
      expression: threshold.expression,
      passed: failing.length === 0,
      detail:
        failing.length === 0
          ? `held for ${applies.length} result(s)`
          : failing.map((point) => `${point.label}: ${observed(threshold, point)}`).join('; '),
    };
  });
}
