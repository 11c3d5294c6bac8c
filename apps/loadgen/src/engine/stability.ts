// perf_analyzer's stability rule: a measurement counts when its last `windows` windows agree within
// `tolerance` on throughput and on p99 latency (each within tolerance of their mean).

export interface StabilityRule {
  windows: number;
  tolerance: number;
}

export const DEFAULT_STABILITY: StabilityRule = { windows: 3, tolerance: 0.1 };

export interface WindowFigures {
  requests: number;
  p99: number;
}

export function assessStability(
  windows: WindowFigures[],
  rule: StabilityRule = DEFAULT_STABILITY,
): { stable: boolean; reason: string } {
  if (windows.length < rule.windows) {
    return { stable: false, reason: `${windows.length} window(s), ${rule.windows} needed` };
  }
  const last = windows.slice(-rule.windows);
  for (const [name, values] of [
    ['throughput', last.map((w) => w.requests)],
    ['p99', last.map((w) => w.p99)],
  ] as const) {
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const worst = Math.max(...values.map((value) => Math.abs(value - mean)));
    if (mean > 0 && worst / mean > rule.tolerance) {
      return {
        stable: false,
        reason: `${name} of the last ${rule.windows} windows varies ${((worst / mean) * 100).toFixed(0)}% from their mean`,
      };
    }
  }
  return { stable: true, reason: `last ${rule.windows} windows within ${rule.tolerance * 100}%` };
}
