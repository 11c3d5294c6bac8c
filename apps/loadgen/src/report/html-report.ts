import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { LoadReport } from './load-report.js';
import { markdownReport } from './markdown-report.js';

// The HTML report: one self-contained file (uPlot's script and styles inlined, the data as JSON in the page),
// so that it opens from disk with no server and no network. Charts: latency over time, the percentile
// spectrum on a log axis, latency against throughput, and the overhead per arm with its intervals.

const require = createRequire(import.meta.url);
const uplotScript = () => readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8');
const uplotStyle = () => readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8');

/** JSON safe inside a <script> element. */
const scriptJson = (value: unknown) => JSON.stringify(value).replaceAll('<', '\\u003c');

const escapeHtml = (text: string) =>
  text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');

// Runs in the page: builds the charts from the embedded report.
const PAGE_SCRIPT = `
const report = JSON.parse(document.getElementById('report-data').textContent);
const colors = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];
const width = Math.min(960, document.body.clientWidth - 40);
function chart(id, title, xLabel, yLabel, data, seriesNames, extra = {}) {
  const el = document.getElementById(id);
  if (data[0].length === 0) { el.textContent = title + ': no data'; return; }
  new uPlot({
    title, width, height: 320, ...extra,
    scales: { x: { time: false, ...(extra.xScale || {}) }, y: extra.yScale || {} },
    axes: [{ label: xLabel, ...(extra.xAxis || {}) }, { label: yLabel }],
    series: [{}, ...seriesNames.map((name, i) => ({ label: name, stroke: colors[i % colors.length], width: 2,
      points: { show: extra.points || false, size: 6 }, ...(extra.pointsOnly ? { paths: () => null } : {}) }))],
  }, data, el);
}
function aligned(rows) {
  const xs = [...new Set(rows.flatMap((r) => r.points.map((p) => p[0])))].sort((a, b) => a - b);
  return [xs, ...rows.map((r) => { const m = new Map(r.points); return xs.map((x) => m.has(x) ? m.get(x) : null); })];
}
const results = report.results;
chart('over-time', 'p99 latency over time (by intended send time)', 'seconds', 'ms',
  aligned(results.map((r) => ({ points: r.windows.map((w) => [w.startMs / 1000, w.p99]) }))), results.map((r) => r.label + ' p99'));
const nines = (p) => -Math.log10(1 - Math.min(p, 99.9999) / 100);
chart('spectrum', 'percentile spectrum (x: number of nines, log scale)', 'percentile', 'ms',
  aligned(results.map((r) => ({ points: r.spectrum.map((s) => [nines(s.percentile), s.ms]) }))), results.map((r) => r.label),
  { xAxis: { values: (u, ticks) => ticks.map((t) => (100 * (1 - Math.pow(10, -t))).toPrecision(6) + '%') } });
const byRps = [...results].sort((a, b) => a.achievedRps - b.achievedRps);
chart('latency-throughput', 'latency against achieved throughput', 'requests/s', 'ms',
  [byRps.map((r) => r.achievedRps), byRps.map((r) => r.latencyMs.p50), byRps.map((r) => r.latencyMs.p99)], ['p50', 'p99'], { points: true });
const deltas = report.deltas.filter((d) => d.metric !== 'achievedRps');
const labels = deltas.map((d) => d.arm + ' ' + d.metric);
chart('overhead', 'overhead per arm against direct (ms, with 95% interval)', labels.map((l, i) => i + ': ' + l).join('   '), 'ms',
  [deltas.map((_, i) => i), deltas.map((d) => d.delta), deltas.map((d) => d.ci95 ? d.ci95[0] : null), deltas.map((d) => d.ci95 ? d.ci95[1] : null)],
  ['delta', 'ci low', 'ci high'], { points: true, pointsOnly: true });
`;

export function htmlReport(report: LoadReport): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>modelgate loadgen: ${escapeHtml(report.scenario)}</title>
<style>${uplotStyle()}
body { font: 14px system-ui, sans-serif; margin: 20px; }
pre { background: #f6f8fa; padding: 12px; overflow-x: auto; }
.chart { margin: 24px 0; }
</style>
</head>
<body>
<h1>modelgate loadgen: ${escapeHtml(report.scenario)}</h1>
<p>${escapeHtml(report.target.source)}, ${escapeHtml(report.startedAt)} to ${escapeHtml(report.endedAt)}</p>
<div class="chart" id="over-time"></div>
<div class="chart" id="spectrum"></div>
<div class="chart" id="latency-throughput"></div>
<div class="chart" id="overhead"></div>
<h2>Summary</h2>
<pre>${escapeHtml(markdownReport(report))}</pre>
<script id="report-data" type="application/json">${scriptJson(report)}</script>
<script>${uplotScript()}</script>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}
