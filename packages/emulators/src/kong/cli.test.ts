import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_POLICY, DEFAULT_SECRETS, kongConfig, MODEL_ACCESS_LUA_DIR } from '@modelgate/policy';
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import { eventually } from '../testing/eventually.js';
import { type KongCliIo, main } from './cli.js';
import { KongEmulator } from './kong-emulator.js';

const CLI = fileURLToPath(new URL('./cli.ts', import.meta.url));
const PACKAGE_DIR = fileURLToPath(new URL('../..', import.meta.url));

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kong-emulator-cli-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function recordingIo(stopAfterStart = false) {
  const out: string[] = [];
  const err: string[] = [];
  const io: KongCliIo = {
    stdout: (text) => out.push(text),
    stderr: (line) => err.push(line),
    onStopSignal: (stop) => {
      if (stopAfterStart) void stop();
    },
  };
  return { io, out, err };
}

const env = (file: string, extra: Record<string, string> = {}) => ({
  KONG_DATABASE: 'off',
  KONG_DECLARATIVE_CONFIG: file,
  KONG_PROXY_LISTEN: '127.0.0.1:0, 127.0.0.1:0 http2',
  KONG_ADMIN_LISTEN: '127.0.0.1:0',
  KONG_STATUS_LISTEN: '127.0.0.1:0',
  KONG_PLUGINS: 'bundled,modelgate-model-access',
  ...extra,
});

describe('the kong emulator CLI', () => {
  it('starts from the image environment and stops on a signal (exit 0)', async () => {
    const file = join(dir, 'kong.json');
    await writeFile(file, JSON.stringify(kongConfig(DEFAULT_POLICY, DEFAULT_SECRETS)));
    const { io, err } = recordingIo(true);
    expect(await main(['kong', 'docker-start'], env(file), io)).toBe(0);
    expect(err.map((line) => JSON.parse(line).role)).toEqual(['proxy', 'proxy', 'admin', 'status']);
  });

  it('exits 1 naming the cause when stopping fails', async () => {
    const file = join(dir, 'kong.json');
    await writeFile(file, JSON.stringify(kongConfig(DEFAULT_POLICY, DEFAULT_SECRETS)));
    const realStop = KongEmulator.prototype.stop;
    const stop = vi.spyOn(KongEmulator.prototype, 'stop').mockImplementationOnce(async function (
      this: KongEmulator,
    ) {
      await realStop.call(this);
      throw new Error('the audit log could not be written');
    });
    try {
      const { io, err } = recordingIo(true);
      expect(await main(['kong', 'docker-start'], env(file), io)).toBe(1);
      expect(err.at(-1)).toBe('Error: stopping failed: the audit log could not be written');
    } finally {
      stop.mockRestore();
    }
  });

  it('ends at once on a second SIGTERM while the first one is still stopping', async () => {
    // the audit log is a FIFO nobody reads: the pending line waits for a reader, and so does the graceful stop
    const fifo = join(dir, 'audit.fifo');
    execFileSync('mkfifo', [fifo]);
    const config = kongConfig(DEFAULT_POLICY, DEFAULT_SECRETS);
    for (const plugin of config.plugins ?? []) {
      if (plugin.name === 'file-log') (plugin.config as { path: string }).path = fifo;
    }
    const file = join(dir, 'fifo.json');
    await writeFile(file, JSON.stringify(config));
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'docker-start'], {
      cwd: PACKAGE_DIR,
      env: { ...process.env, ...env(file) },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    const exit = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal })),
    );
    // an emulator that ignored both signals must not outlive the test, even one that timed out
    onTestFinished(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    const proxyPort = await new Promise<number>((resolve) =>
      child.stderr?.on('data', (chunk) => {
        stderr += String(chunk);
        const found = /"role":"proxy","host":"127.0.0.1","port":(\d+),"http2":false/.exec(stderr);
        if (found) resolve(Number(found[1]));
      }),
    );
    await (await fetch(`http://127.0.0.1:${proxyPort}/nowhere`)).text(); // one log line to write
    child.kill('SIGTERM');
    await eventually(() => stderr.includes('SIGTERM, stopping'), 20);
    child.kill('SIGTERM');
    // killed by the signal: a shell reports 143
    expect(await exit).toEqual({ code: null, signal: 'SIGTERM' });
  });

  it("refuses a bad declarative config with Kong's start-up message and exit 1, never listening", async () => {
    const file = join(dir, 'bad.json');
    await writeFile(file, JSON.stringify({ _format_version: '3.0', services: [{ name: 's' }] }));
    const { io, err } = recordingIo();
    expect(await main([], env(file), io)).toBe(1);
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(new RegExp(`^Error: error parsing declarative config file ${file}:\\n`));
    expect(err[0]).toContain('required field missing');
  });

  it('starts with the plugin on KONG_LUA_PACKAGE_PATH, and refuses with exit 1 as Kong does when it is not there', async () => {
    const file = join(dir, 'kong-lua-path.json');
    await writeFile(file, JSON.stringify(kongConfig(DEFAULT_POLICY, DEFAULT_SECRETS)));
    const found = recordingIo(true);
    const withPlugin = env(file, { KONG_LUA_PACKAGE_PATH: `${MODEL_ACCESS_LUA_DIR}/?.lua;;` });
    expect(await main(['kong', 'docker-start'], withPlugin, found.io)).toBe(0);
    const missing = recordingIo(true);
    const elsewhere = env(file, { KONG_LUA_PACKAGE_PATH: `${dir}/plugins/?.lua;;` });
    expect(await main(['kong', 'docker-start'], elsewhere, missing.io)).toBe(1);
    expect(missing.err).toEqual([
      'Error: modelgate-model-access plugin is enabled but not installed;\n' +
        "module 'kong.plugins.modelgate-model-access.handler' not found:\n" +
        `\tno file '${dir}/plugins/kong/plugins/modelgate-model-access/handler.lua'`,
    ]);
  });

  it('refuses a database other than off with exit 2, naming the variable', async () => {
    const { io, err } = recordingIo();
    expect(await main([], env('/nowhere.json', { KONG_DATABASE: 'postgres' }), io)).toBe(2);
    expect(err[0]).toMatch(/^Error: KONG_DATABASE: expected 'off'/);
  });

  it('prints help showing every variable and flag', async () => {
    const { io, out } = recordingIo();
    expect(await main(['--help'], {}, io)).toBe(0);
    for (const word of ['KONG_DATABASE', 'KONG_PROXY_LISTEN', 'KONG_PLUGINS', '--help', '--version']) {
      expect(out.join('')).toContain(word);
    }
  });
});
