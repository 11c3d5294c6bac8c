import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

// `modelgate-loadgen k6` with a stand-in k6 executable (the real one is AGPL and never installed here): it
// checks what the command hands k6 and writes a summary as the bundled script's handleSummary would.

const CLI = new URL('../cli.ts', import.meta.url).pathname;

const FAKE_K6 = `#!/usr/bin/env node
const fs = require('node:fs');
const args = process.argv.slice(2);
const config = JSON.parse(args[args.indexOf('-e') + 1].replace(/^MODELGATE_K6_CONFIG=/, ''));
fs.writeFileSync(process.env.FAKE_K6_SEEN, JSON.stringify({ args, config, restBody: fs.readFileSync(config.restBodyFile, 'utf8'), grpcRequest: JSON.parse(fs.readFileSync(config.grpcRequestFile, 'utf8')) }));
const latency = { p50: 1, p90: 2, p99: 3, p999: 4, p9999: 5, max: 6, mean: 1.5 };
const result = { label: 'direct', arm: 'direct', transport: 'rest', batchSize: config.batchSize, load: { kind: 'open', schedule: 'constant', rate: config.rate }, durationMs: 1000, requests: 10, ok: 10, errors: {}, expectedRefusals: {}, achievedRps: 10, inferencesPerSecond: 20, latencyMs: latency, latencyFromSendMs: latency, latenessMs: latency, lateSends: 0, droppedSends: 0, kongLatencyMs: { proxy: null, upstream: null }, generatorLimited: false, generatorLimitReasons: [], generator: { cpuShare: 0, eventLoopLagMs: { p50: 0, p99: 0, max: 0 }, workers: 1 }, stability: { stable: false, trials: 1, reason: 'k6 keeps no windows' }, windows: [], spectrum: [], histograms: { fromIntended: '', fromSend: '' } };
fs.writeFileSync(config.summaryFile, JSON.stringify({ schemaVersion: 1, tool: { name: 'k6 scripts', version: '0.1.0', engine: 'k6' }, scenario: config.scenario, parameters: {}, target: { kind: 'stack', source: 'k6', provider: null }, startedAt: '2026-12-03T08:00:00.000Z', endedAt: '2026-12-03T08:00:01.000Z', results: [result], unavailableArms: [], deltas: [], search: null, telemetry: { prometheus: [], gpu: [], gpuNote: 'none' }, thresholds: [] }));
`;

function loadgen(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', CLI, ...args],
      { timeout: 60_000, env: { ...process.env, ...env } },
      (error, _stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stderr }),
    );
  });
}

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('modelgate-loadgen k6', () => {
  it('hands k6 the bundled script, the arms, the schedule and payloads serialized once, and reports its summary', async () => {
    dir = await mkdtemp(join(tmpdir(), 'loadgen-k6-'));
    const k6 = join(dir, 'k6');
    await writeFile(k6, FAKE_K6);
    await chmod(k6, 0o755);
    const seen = join(dir, 'seen.json');
    const run = await loadgen(
      [
        'k6',
        'auth-overhead',
        '--target',
        'http://127.0.0.1:9',
        '--transport',
        'rest',
        '--rate',
        '10',
        '--batch',
        '2',
        '--k6',
        k6,
        '--out',
        join(dir, 'out'),
      ],
      { FAKE_K6_SEEN: seen },
    );
    expect(run.code, run.stderr).toBe(0);
    const handed = JSON.parse(await readFile(seen, 'utf8'));
    expect(handed.args[0]).toBe('run');
    expect(handed.args.at(-1)).toMatch(/dist\/k6\/predict\.js$/);
    expect(handed.config).toMatchObject({
      scenario: 'auth-overhead',
      rate: 10,
      blocks: 2,
      batchSize: 2,
      arms: [
        {
          arm: 'direct',
          protocol: 'http',
          target: 'http://127.0.0.1:9/v1/models/half_plus_two:predict',
          tokens: [],
        },
      ],
    });
    expect(handed.config.protoRoot).toMatch(/packages\/proto\/proto$/);
    expect(JSON.parse(handed.restBody).inputs).toHaveLength(2);
    expect(handed.grpcRequest.modelSpec.name).toBe('half_plus_two');
    const report = JSON.parse(await readFile(join(dir, 'out', 'k6-auth-overhead.json'), 'utf8'));
    expect(report.target).toEqual({ kind: 'bare', source: 'target http://127.0.0.1:9', provider: null });
    expect(await readFile(join(dir, 'out', 'k6-auth-overhead.md'), 'utf8')).toContain('| direct | 10 | 0 |');
  });

  it('says k6 is the user\u2019s to install when it is not there, and exits 1', async () => {
    const run = await loadgen([
      'k6',
      'throughput',
      '--target',
      'http://127.0.0.1:9',
      '--k6',
      '/nonexistent/k6',
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('k6 is AGPL-licensed and is not installed by this project');
  });
});
