import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { K6Config } from '../../src/k6/k6-config.js';
import { LOAD_REPORT_SCHEMA } from '../../src/report/load-report.js';
import { newStandInLog, standIn } from '../stand-ins/k6-stand-in-log.js';

// The k6 script's logic with small stand-ins for k6's modules: what it sends per arm, which tokens, what
// counts as an expected refusal, and that handleSummary writes our report schema.

const config: K6Config = {
  scenario: 'auth-overhead',
  arms: [
    {
      arm: 'direct',
      protocol: 'http',
      target: 'http://ms:8501/v1/models/m:predict',
      tokens: [],
      badTokens: [],
      badShare: 0,
    },
    {
      arm: 'full-policy',
      protocol: 'grpc',
      target: 'gw:9080',
      tokens: ['good-1', 'good-2'],
      badTokens: ['bad-1'],
      badShare: 0.5,
    },
  ],
  rate: 20,
  blocks: 2,
  blockSeconds: 3,
  batchSize: 4,
  restBodyFile: '/payload/rest.json',
  grpcRequestFile: '/payload/grpc.json',
  protoRoot: '/proto',
  summaryFile: '/out/k6.json',
  thresholds: ['p(99)<50'],
};

const files: Record<string, string> = {
  '/payload/rest.json': '{"instances":[[1,2]]}',
  '/payload/grpc.json': '{"modelSpec":{"name":"m"}}',
};

async function loadScript(env: Record<string, string>) {
  vi.resetModules();
  vi.stubGlobal('__ENV', env);
  vi.stubGlobal('open', (path: string) => files[path]);
  return import('./predict-script.js');
}

beforeEach(() => {
  standIn.log = newStandInLog();
  vi.unstubAllGlobals();
});

describe('the k6 predict script', () => {
  it('declares one constant-arrival-rate scenario per arm and block, the order rotating, with thresholds per arm', async () => {
    const script = await loadScript({ MODELGATE_K6_CONFIG: JSON.stringify(config) });
    const scenarios = script.options.scenarios as Record<
      string,
      { startTime: string; env: { MODELGATE_ARM: string } }
    >;
    expect(Object.entries(scenarios).map(([name, s]) => [name, s.startTime])).toEqual([
      ['b0_direct', '0s'],
      ['b0_full_policy', '4s'],
      ['b1_full_policy', '8s'],
      ['b1_direct', '12s'],
    ]);
    expect(script.options.thresholds['modelgate_latency{arm:full-policy}']).toEqual(['max>=0', 'p(99)<50']);
    expect(standIn.log.loaded).toEqual([
      { roots: ['/proto'], file: 'tensorflow_serving/apis/prediction_service.proto' },
    ]);
  });

  it('posts the REST body to the direct arm without a token', async () => {
    const script = await loadScript({ MODELGATE_K6_CONFIG: JSON.stringify(config), MODELGATE_ARM: 'direct' });
    script.predict();
    expect(standIn.log.httpPosts).toEqual([
      {
        url: 'http://ms:8501/v1/models/m:predict',
        body: '{"instances":[[1,2]]}',
        headers: { 'content-type': 'application/json' },
        tags: { arm: 'direct' },
      },
    ]);
    expect(standIn.log.metrics.map((m) => m.name)).toEqual(['modelgate_requests', 'modelgate_latency']);
  });

  it('sends gRPC Predict with good and bad tokens, counting the refusal of a bad one as expected', async () => {
    const script = await loadScript({
      MODELGATE_K6_CONFIG: JSON.stringify(config),
      MODELGATE_ARM: 'full-policy',
    });
    standIn.log.grpcStatus = (authorization) => (authorization === 'Bearer bad-1' ? 16 : 0);
    script.predict();
    script.predict();
    expect(
      standIn.log.grpcInvokes.map((call) => [call.address, call.method, call.metadata.authorization]),
    ).toEqual([
      ['gw:9080', 'tensorflow.serving.PredictionService/Predict', 'Bearer good-1'],
      ['gw:9080', 'tensorflow.serving.PredictionService/Predict', 'Bearer bad-1'],
    ]);
    expect(standIn.log.metrics.map((m) => m.name)).toEqual([
      'modelgate_requests',
      'modelgate_latency',
      'modelgate_requests',
      'modelgate_expected_refusals',
    ]);
    expect(standIn.log.checks).toEqual(['predict answered OK', 'bad token refused with UNAUTHENTICATED']);
  });

  it('counts a bad token that got through as an error, not a success', async () => {
    const script = await loadScript({
      MODELGATE_K6_CONFIG: JSON.stringify(config),
      MODELGATE_ARM: 'full-policy',
    });
    script.predict();
    script.predict();
    expect(standIn.log.metrics.map((m) => m.name).at(-1)).toBe('modelgate_errors');
  });

  it('writes handleSummary as our report schema, per arm, from the tagged submetrics', async () => {
    const script = await loadScript({ MODELGATE_K6_CONFIG: JSON.stringify(config) });
    const trend = {
      avg: 4,
      min: 1,
      med: 3,
      max: 30,
      'p(50)': 3,
      'p(90)': 6,
      'p(99)': 20,
      'p(99.9)': 29,
      'p(99.99)': 30,
    };
    const files = script.handleSummary({
      state: { testRunDurationMs: 16_000 },
      metrics: {
        'modelgate_latency{arm:direct}': { type: 'trend', values: trend },
        'modelgate_requests{arm:direct}': { type: 'counter', values: { count: 120 } },
        'modelgate_latency{arm:full-policy}': {
          type: 'trend',
          values: trend,
          thresholds: { 'max>=0': { ok: true }, 'p(99)<50': { ok: true } },
        },
        'modelgate_requests{arm:full-policy}': { type: 'counter', values: { count: 120 } },
        'modelgate_expected_refusals{arm:full-policy}': { type: 'counter', values: { count: 60 } },
      },
    });
    const report = JSON.parse(files['/out/k6.json'] as string);
    expect(LOAD_REPORT_SCHEMA.safeParse(report).success).toBe(true);
    expect(report.tool.engine).toBe('k6');
    expect(report.results[1]).toMatchObject({
      label: 'full-policy',
      requests: 120,
      ok: 60,
      expectedRefusals: { k6: 60 },
      achievedRps: 20,
      inferencesPerSecond: 40,
      latencyMs: { p50: 3, p99: 20, p999: 29, max: 30 },
    });
    expect(report.thresholds).toEqual([
      { expression: 'modelgate_latency{arm:full-policy}: p(99)<50', passed: true, detail: 'k6 threshold' },
    ]);
  });

  it('refuses to start without its config, saying how to run it', async () => {
    await expect(loadScript({})).rejects.toThrow('run this script through `modelgate-loadgen k6 <scenario>`');
  });
});
