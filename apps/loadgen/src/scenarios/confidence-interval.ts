// Paired blocks: each block measured every arm back to back, so the per-block difference cancels drift.
// The 95% interval of the mean difference uses Student's t with blocks - 1 degrees of freedom.

const T95 = [
  NaN,
  12.706,
  4.303,
  3.182,
  2.776,
  2.571,
  2.447,
  2.365,
  2.306,
  2.262,
  2.228,
  2.201,
  2.179,
  2.16,
  2.145,
];

function t95(degreesOfFreedom: number): number {
  return T95[degreesOfFreedom] ?? 1.96 + 2.4 / degreesOfFreedom;
}

/** The mean difference and its 95% interval; no interval (null) from fewer than 2 blocks. */
export function meanDifferenceInterval(differences: number[]): {
  mean: number;
  ci95: [number, number] | null;
} {
  const n = differences.length;
  const mean = differences.reduce((a, b) => a + b, 0) / Math.max(1, n);
  if (n < 2) return { mean, ci95: null };
  const variance = differences.reduce((sum, d) => sum + (d - mean) ** 2, 0) / (n - 1);
  const half = t95(n - 1) * Math.sqrt(variance / n);
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return { mean: round(mean), ci95: [round(mean - half), round(mean + half)] };
}
