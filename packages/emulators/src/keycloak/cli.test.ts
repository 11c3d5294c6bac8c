import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_POLICY, DEFAULT_SECRETS, keycloakRealm } from '@modelgate/policy';
import { afterEach, describe, expect, it } from 'vitest';
import { type CliIo, EXIT, main } from './cli.js';

let folder: string | undefined;

afterEach(async () => {
  if (folder) await rm(folder, { recursive: true, force: true });
  folder = undefined;
});

function recordingIo(): CliIo & {
  out: string[];
  logs: Record<string, unknown>[];
  stop: () => Promise<void>;
} {
  let stop: () => Promise<void> = async () => {};
  const io = {
    out: [] as string[],
    logs: [] as Record<string, unknown>[],
    stdout: (text: string) => io.out.push(text),
    log: (entry: Record<string, unknown>) => io.logs.push(entry),
    onStopSignal: (handler: () => Promise<void>) => {
      stop = handler;
    },
    stop: () => stop(),
  };
  return io;
}

describe('keycloak emulator CLI', () => {
  it('imports <name>-realm.json files with --import-realm, serves them, and exits 0 on a stop signal', async () => {
    folder = await mkdtemp(join(tmpdir(), 'kc-emulator-'));
    const realm = await keycloakRealm(DEFAULT_POLICY, DEFAULT_SECRETS);
    await writeFile(join(folder, `${realm.realm}-realm.json`), JSON.stringify(realm));
    await writeFile(join(folder, 'ignored.json'), '{');
    const io = recordingIo();
    const exit = main(
      [
        'start-dev',
        '--http-port=0',
        '--http-management-port=0',
        '--http-host=127.0.0.1',
        '--import-realm',
        `--import-dir=${folder}`,
      ],
      {},
      io,
    );
    await expect.poll(() => io.logs.length).toBe(1);
    const listening = io.logs[0] as { baseUrl: string; realms: string[] };
    expect(listening.realms).toEqual(['master', realm.realm]);
    expect(
      (await fetch(`${listening.baseUrl}/realms/${realm.realm}/protocol/openid-connect/certs`)).status,
    ).toBe(200);
    await io.stop();
    expect(await exit).toBe(EXIT.ok);
  });

  it('exits 1 naming the file when a realm file is not JSON', async () => {
    folder = await mkdtemp(join(tmpdir(), 'kc-emulator-'));
    await writeFile(join(folder, 'broken-realm.json'), '{');
    const io = recordingIo();
    expect(await main(['start-dev', '--import-realm', `--import-dir=${folder}`], {}, io)).toBe(
      EXIT.startFailed,
    );
    expect(String(io.logs[0]?.error)).toContain('broken-realm.json: not JSON');
  });

  it('exits 2 with the help for an unknown flag', async () => {
    const io = recordingIo();
    expect(await main(['start-dev', '--db=postgres'], {}, io)).toBe(EXIT.usage);
    expect(io.out.join('')).toContain('--http-port=<port>');
  });
});
