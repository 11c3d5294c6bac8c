import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './engine/test-servers.js';
import { parseLoadReport } from './report/load-report.js';

// The command as a user runs it: flags in, reports and an exit code out.

const CLI = new URL('./cli.ts', import.meta.url).pathname;

function loadgen(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', CLI, ...args],
      { timeout: 60_000 },
      (error, _stdout, stderr) => {
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stderr });
      },
    );
  });
}

let server: TestServer | undefined;
let out: string | undefined;
afterEach(async () => {
  await server?.close();
  if (out) await rm(out, { recursive: true, force: true });
  server = undefined;
  out = undefined;
});

describe('modelgate-loadgen', () => {
  it('runs a throughput point against a bare REST target and writes JSON, Markdown, HTML and CSV', async () => {
    server = await startTestServer({ serviceTimeMs: 2 });
    out = await mkdtemp(join(tmpdir(), 'loadgen-cli-'));
    const target = new URL(server.url).origin;
    const run = await loadgen([
      'throughput',
      '--target',
      target,
      '--transport',
      'rest',
      '--batch-sizes',
      '4',
      '--concurrencies',
      '2',
      '--duration',
      '400ms',
      '--warmup',
      '100ms',
      '--max-trials',
      '1',
      '--out',
      out,
    ]);
    expect(run.code, run.stderr).toBe(0);
    const report = parseLoadReport(
      JSON.parse(await readFile(join(out, 'throughput.json'), 'utf8')),
      'throughput.json',
    );
    expect(report.target).toEqual({ kind: 'bare', source: `target ${target}`, provider: null });
    expect(report.results).toHaveLength(1);
    expect(report.results[0]).toMatchObject({ label: 'batch=4 concurrency=2', batchSize: 4, errors: {} });
    expect(report.results[0]?.inferencesPerSecond).toBeCloseTo((report.results[0]?.achievedRps ?? 0) * 4, 0);
    for (const file of ['throughput.md', 'throughput.html', 'throughput.csv']) {
      expect((await readFile(join(out, file), 'utf8')).length).toBeGreaterThan(0);
    }
  });

  it('exits 3 when a --fail-if threshold holds, and says which', async () => {
    server = await startTestServer({ serviceTimeMs: 5 });
    out = await mkdtemp(join(tmpdir(), 'loadgen-cli-'));
    const run = await loadgen([
      'throughput',
      '--target',
      new URL(server.url).origin,
      '--transport',
      'rest',
      '--batch-sizes',
      '1',
      '--concurrencies',
      '1',
      '--duration',
      '300ms',
      '--max-trials',
      '1',
      '--fail-if',
      'p50>1ms',
      '--out',
      out,
    ]);
    expect(run.code).toBe(3);
    expect(run.stderr).toContain('threshold p50>1ms: FAILED');
  });

  it('exits 2 on a target it cannot use, naming the flag', async () => {
    const run = await loadgen(['auth-overhead', '--target', 'ftp://example']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--target ftp://example: expected grpc://HOST:PORT or http://HOST:PORT');
  });
});
