import type { LoadReport } from './load-report.js';

// The time series as CSV: one row per result and window (by intended send time), for spreadsheets and plots.

const CSV_HEADER = 'result,window_start_ms,requests,errors,rps,p50_ms,p99_ms,max_ms';

const quote = (text: string) => (/[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text);

export function csvTimeSeries(report: LoadReport): string {
  const rows = report.results.flatMap((point) =>
    point.windows.map((w) =>
      [quote(point.label), w.startMs, w.requests, w.errors, w.rps, w.p50, w.p99, w.max].join(','),
    ),
  );
  return `${[CSV_HEADER, ...rows].join('\n')}\n`;
}
