import type { LoadReport, PointResult } from './load-report.js';

// The Markdown summary: what ran against what, each arm or point in one row, the deltas with their intervals,
// what was left out and why, and whether the generator was the limit anywhere.

const fixed = (value: number, digits = 2) => (Number.isFinite(value) ? value.toFixed(digits) : String(value));
const errorCount = (point: PointResult) => Object.values(point.errors).reduce((a, b) => a + b, 0);

function resultRow(point: PointResult): string {
  const l = point.latencyMs;
  const cells = [
    point.label,
    String(point.requests),
    String(errorCount(point)),
    fixed(point.achievedRps, 1),
    fixed(point.inferencesPerSecond, 1),
    fixed(l.p50),
    fixed(l.p90),
    fixed(l.p99),
    fixed(l.p999),
    fixed(l.max),
    fixed(point.latencyFromSendMs.p99),
    String(point.lateSends),
    String(point.droppedSends),
    point.stability.stable ? 'yes' : 'no',
    point.generatorLimited ? `**yes**: ${point.generatorLimitReasons.join('; ')}` : 'no',
  ];
  return `| ${cells.join(' | ')} |`;
}

export function markdownReport(report: LoadReport): string {
  const lines = [
    `# modelgate loadgen: ${report.scenario}`,
    '',
    `- target: ${report.target.source}${report.target.provider ? ` (${report.target.provider})` : ''}`,
    `- ran: ${report.startedAt} to ${report.endedAt}`,
    `- parameters: \`${JSON.stringify(report.parameters)}\``,
    '',
    'Latency in ms from the intended send time (coordinated omission corrected); "send p99" from the actual send.',
    '',
    '| result | requests | errors | req/s | inferences/s | p50 | p90 | p99 | p99.9 | max | send p99 | late | dropped | stable | generator-limited |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |',
    ...report.results.map(resultRow),
  ];
  if (report.results.some((point) => point.generatorLimited)) {
    lines.push(
      '',
      '**A result marked generator-limited measured the load generator, not the server: do not quote it.**',
    );
  }
  const kong = report.results.filter((point) => point.kongLatencyMs.proxy || point.kongLatencyMs.upstream);
  if (kong.length > 0) {
    lines.push(
      '',
      '## Gateway time (Kong latency headers)',
      '',
      '| result | proxy p50 | proxy p99 | upstream p50 | upstream p99 |',
      '| --- | ---: | ---: | ---: | ---: |',
    );
    for (const point of kong) {
      const { proxy, upstream } = point.kongLatencyMs;
      lines.push(
        `| ${point.label} | ${proxy ? fixed(proxy.p50) : '-'} | ${proxy ? fixed(proxy.p99) : '-'} | ${upstream ? fixed(upstream.p50) : '-'} | ${upstream ? fixed(upstream.p99) : '-'} |`,
      );
    }
  }
  if (report.deltas.length > 0) {
    lines.push(
      '',
      '## Overhead against the model server directly',
      '',
      '| arm | metric | delta | 95% interval | blocks |',
      '| --- | --- | ---: | --- | ---: |',
    );
    for (const delta of report.deltas) {
      const unit = delta.metric === 'achievedRps' ? ' req/s' : ' ms';
      lines.push(
        `| ${delta.arm} | ${delta.metric} | ${fixed(delta.delta, 3)}${unit} | ${delta.ci95 ? `[${fixed(delta.ci95[0], 3)}, ${fixed(delta.ci95[1], 3)}]` : 'n/a (1 block)'} | ${delta.blocks} |`,
      );
    }
  }
  if (report.unavailableArms.length > 0) {
    lines.push(
      '',
      '## Arms not measured',
      '',
      ...report.unavailableArms.map((arm) => `- ${arm.arm}: ${arm.reason}`),
    );
  }
  if (report.search) {
    lines.push(
      '',
      `## SLO search (${report.search.slo})`,
      '',
      `Highest rate that met it: ${report.search.bestRate ?? 'none'} req/s (tried ${report.search.tried.join(', ')}).`,
    );
  }
  lines.push('', '## Telemetry', '');
  for (const source of report.telemetry.prometheus) {
    const moved = Object.keys(source.deltas).length;
    lines.push(
      `- ${source.source} (${source.url}): ${source.error ? `not read: ${source.error}` : `${moved} series moved`}`,
    );
  }
  lines.push(`- GPU: ${report.telemetry.gpuNote}`);
  if (report.thresholds.length > 0) {
    lines.push(
      '',
      '## Thresholds',
      '',
      ...report.thresholds.map(
        (t) => `- ${t.passed ? 'passed' : '**failed**'}: \`${t.expression}\` (${t.detail})`,
      ),
    );
  }
  return `${lines.join('\n')}\n`;
}
