import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { readStackDescription } from '@modelgate/stack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLineOf, formatAuditLine } from './audit-tail.js';

// `modelgate dev` as a user runs it (through the CLI, in a child process), stopping once ready.

const run = promisify(execFile);
const CLI = new URL('../cli.ts', import.meta.url).pathname;
const TSX = new URL('../../node_modules/.bin/tsx', import.meta.url).pathname;

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'modelgate-dev-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('modelgate dev', { timeout: 120_000 }, () => {
  it('starts the emulators, prints endpoints, clients, tokens and commands, writes the stack file 0600', async () => {
    const file = join(dir, 'stack.json');
    const { stdout, stderr } = await run(
      TSX,
      [CLI, 'dev', '--provider', 'emulators', '--write-endpoints', file, '--exit-when-ready'],
      {
        env: { ...process.env, INIT_CWD: dir },
      },
    );
    const description = await readStackDescription(file);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(stdout).toMatch(/^modelgate stack ready in \d+\.\d s \(emulators: --provider emulators\)/);
    expect(stdout).toContain(`gateway REST    ${description.gateway.http}`);
    expect(stdout).toContain('  classifier-app   classifier\n');
    expect(stdout).toMatch(/ {2}ops-console {6}\(valid 300 s\) eyJ[\w-]+\.[\w-]+\.[\w-]+\n/);
    expect(stdout).toContain(
      `pnpm modelgate predict --stack ${file} --client ops-console --model half_plus_two`,
    );
    for (const client of description.clients) expect(stdout).not.toContain(client.secret as string);
    expect(stderr).toMatch(/stack stopped in/);
  });

  it('refuses a policy that does not validate with exit 2, naming the field', async () => {
    const failure = await run(
      TSX,
      [CLI, 'dev', '--provider', 'emulators', '--policy', join(dir, 'missing.json')],
      {
        env: { ...process.env, INIT_CWD: dir },
      },
    ).catch((error: { code: number; stderr: string }) => error);
    expect(failure).toMatchObject({ code: 2 });
    expect((failure as { stderr: string }).stderr).toContain('cannot read the policy as JSON');
  });
});

describe('the audit view', () => {
  it('shows consumer, model, version, status and latency of a Kong file-log line', () => {
    const line = auditLineOf({
      started_at: Date.UTC(2026, 11, 3, 7, 51, 16, 73),
      consumer: { username: 'ops-console', id: 'x' },
      route: { name: 'rest-half_plus_two' },
      model: 'half_plus_two',
      model_version: 'latest',
      response: { status: 200 },
      latencies: { request: 50, kong: 2, proxy: 48 },
      request: { headers: { authorization: 'REDACTED' } },
    });
    expect(formatAuditLine(line)).toBe(
      '07:51:16.073  ops-console      half_plus_two  latest   200     50 ms  rest-half_plus_two',
    );
    expect(auditLineOf({ response: { status: 401 } })).toMatchObject({
      consumer: '-',
      model: '-',
      status: 401,
    });
  });
});
