import * as hdr from 'hdr-histogram-js';

// HdrHistogram (the maintained JS port) in microseconds, 3 significant digits, up to an hour. Histograms cross
// thread, process and machine boundaries as HdrHistogram's compressed base64 (the format the Java and Go
// implementations read), and adding decoded histograms is exact: the merged counts are the sums of the counts.

export type LatencyHistogram = hdr.Histogram;

const HIGHEST_TRACKABLE_US = 3_600_000_000;

export function createLatencyHistogram(): LatencyHistogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: HIGHEST_TRACKABLE_US,
    numberOfSignificantValueDigits: 3,
    autoResize: true,
  });
}

/** Records a duration given in milliseconds (stored as whole microseconds, at least 1). */
export function recordMs(histogram: LatencyHistogram, ms: number): void {
  histogram.recordValue(Math.min(HIGHEST_TRACKABLE_US, Math.max(1, Math.round(ms * 1000))));
}

export function encodeHistogram(histogram: LatencyHistogram): string {
  return hdr.encodeIntoCompressedBase64(histogram);
}

export function decodeHistogram(encoded: string): LatencyHistogram {
  return hdr.decodeFromCompressedBase64(encoded);
}

/** One histogram holding every count of the given ones (exact: no resampling). */
export function mergeHistograms(parts: LatencyHistogram[]): LatencyHistogram {
  const merged = createLatencyHistogram();
  for (const part of parts) merged.add(part);
  return merged;
}

export interface LatencySummaryMs {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  p9999: number;
  max: number;
  mean: number;
}

const ms = (us: number) => Math.round(us) / 1000;

/** Percentiles in ms (HdrHistogram's values: the highest value equivalent to the percentile's bucket). */
export function summarize(histogram: LatencyHistogram): LatencySummaryMs {
  if (histogram.totalCount === 0) return { p50: 0, p90: 0, p99: 0, p999: 0, p9999: 0, max: 0, mean: 0 };
  return {
    p50: ms(histogram.getValueAtPercentile(50)),
    p90: ms(histogram.getValueAtPercentile(90)),
    p99: ms(histogram.getValueAtPercentile(99)),
    p999: ms(histogram.getValueAtPercentile(99.9)),
    p9999: ms(histogram.getValueAtPercentile(99.99)),
    max: ms(histogram.maxValue),
    mean: ms(histogram.mean),
  };
}

/** The percentile spectrum (for the log-axis chart): value at 1 - 10^-k for k in steps up to 99.999. */
export function percentileSpectrum(histogram: LatencyHistogram): { percentile: number; ms: number }[] {
  if (histogram.totalCount === 0) return [];
  const points: { percentile: number; ms: number }[] = [];
  for (let nines = 0; nines <= 5; nines += 0.25) {
    const percentile = 100 * (1 - 10 ** -nines);
    points.push({
      percentile: Number(percentile.toFixed(4)),
      ms: ms(histogram.getValueAtPercentile(percentile)),
    });
  }
  return points;
}
