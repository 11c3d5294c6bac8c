import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { failure, OK } from '../engine/request-outcome.js';
import { RunRecorder } from '../engine/run-recorder.js';
import { csvTimeSeries } from './csv-report.js';
import { htmlReport } from './html-report.js';
import { LOAD_REPORT_SCHEMA, type LoadReport, parseLoadReport, reportJsonSchema } from './load-report.js';
import { markdownReport } from './markdown-report.js';
import { REPORT_JSON_SCHEMA_FILE } from './report-schema-file.js';
import { testReport } from './testing/test-report.js';
import { checkThresholds, parseThreshold } from './thresholds.js';

function sampleReport(): LoadReport {
  const recorder = new RunRecorder({ warmupMs: 0, windowMs: 1000, lateThresholdMs: 2 });
  for (let i = 0; i < 200; i++) {
    recorder.recordSend(i * 10, 0);
    recorder.recordCompletion(i * 10, 5 + (i % 10), 4 + (i % 10), i === 7 ? failure('grpc:UNAVAILABLE') : OK);
  }
  return testReport(recorder, {
    cpuShare: 0.2,
    point: { label: 'direct', arm: 'direct', batchSize: 8 },
    report: {
      scenario: 'auth-overhead',
      parameters: { rate: 100 },
      target: { kind: 'bare', source: 'target grpc://127.0.0.1:8500', provider: null },
      unavailableArms: [{ arm: 'jwt', reason: 'the target has no gateway' }],
      telemetry: { prometheus: [], gpu: [], gpuNote: 'no nvidia-smi here' },
    },
  });
}

describe('the report', () => {
  it('ships a JSON Schema that is the one the code validates with (rerun `pnpm schema` when it changes)', () => {
    expect(JSON.parse(readFileSync(REPORT_JSON_SCHEMA_FILE, 'utf8'))).toEqual(reportJsonSchema());
  });

  it('carries the figures a reader needs: requests, errors by kind, rates, both latency views', () => {
    const [point] = sampleReport().results;
    expect(point).toMatchObject({
      requests: 200,
      ok: 199,
      errors: { 'grpc:UNAVAILABLE': 1 },
      achievedRps: 100,
      inferencesPerSecond: 796,
      lateSends: 0,
      droppedSends: 0,
    });
    expect(point?.latencyMs.max).toBe(14);
    expect(point?.latencyFromSendMs.max).toBe(13);
    expect(point?.windows.map((w) => w.requests)).toEqual([100, 100]);
    expect(LOAD_REPORT_SCHEMA.safeParse(sampleReport()).success).toBe(true);
  });

  it('refuses a report of another schema version by name', () => {
    expect(() => parseLoadReport({ ...sampleReport(), schemaVersion: 2 }, 'old.json')).toThrow(
      'old.json: schemaVersion 2 is not supported',
    );
  });

  it('writes Markdown with a row per result and the arms left out with why', () => {
    const markdown = markdownReport(sampleReport());
    expect(markdown).toContain('| direct | 200 | 1 | 100.0 | 796.0 |');
    expect(markdown).toContain('- jwt: the target has no gateway');
  });

  it('writes HTML that needs nothing from the network: the chart library and the data are inline', () => {
    const html = htmlReport(sampleReport());
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect(html).not.toMatch(/<link[^>]+href=/);
    expect(html).toContain('uPlot');
    expect(html).toContain('id="spectrum"');
    // the data cannot close its own script element
    expect(html.match(/<\/script>/g)).toHaveLength(3);
  });

  it('writes the time series as CSV, one row per result and window', () => {
    expect(csvTimeSeries(sampleReport()).split('\n').slice(0, 2)).toEqual([
      'result,window_start_ms,requests,errors,rps,p50_ms,p99_ms,max_ms',
      'direct,0,100,1,100,9.007,14.007,14',
    ]);
  });
});

describe('--fail-if thresholds', () => {
  it('fails on a latency, an error share or a rate, scoped to a result or not', () => {
    const { results } = sampleReport();
    expect(checkThresholds([parseThreshold('p99>10ms')], results)).toEqual([
      { expression: 'p99>10ms', passed: false, detail: 'direct: 14.007' },
    ]);
    expect(checkThresholds([parseThreshold('errors>1%')], results)[0]?.passed).toBe(true);
    expect(checkThresholds([parseThreshold('direct:rps<150')], results)[0]?.passed).toBe(false);
    expect(checkThresholds([parseThreshold('jwt:p99>1s')], results)[0]).toMatchObject({
      passed: false,
      detail: 'no result named jwt',
    });
  });

  it('refuses an expression it cannot read, listing the metrics', () => {
    expect(() => parseThreshold('p98>5ms')).toThrow('expected METRIC OP VALUE');
  });
});
