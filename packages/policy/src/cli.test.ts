import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compilePolicy } from './compile.js';
import { DEFAULT_POLICY_INPUT } from './default-policy.js';
import { DEFAULT_POLICY, DEFAULT_SECRETS } from './index.js';

const run = promisify(execFile);
const CLI = new URL('./cli.ts', import.meta.url).pathname;
const TSX = new URL('../node_modules/.bin/tsx', import.meta.url).pathname;

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'modelgate-policy-cli-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const mode = async (file: string) => (await stat(file)).mode & 0o777;

function failure(args: string[]): Promise<{ code: number; stderr: string }> {
  return run(TSX, [CLI, ...args], { env: { ...process.env, INIT_CWD: dir } }).then(
    () => ({ code: 0, stderr: '' }),
    (error: { code: number; stderr: string }) => error,
  );
}

describe('modelgate-policy compile', { timeout: 60_000 }, () => {
  it('writes the default policy as the API compiles it, the realm 0600, relative to where it was started', async () => {
    const { stderr } = await run(TSX, [CLI, 'compile', '--out', 'out'], {
      env: { ...process.env, INIT_CWD: dir },
    });
    const compiled = await compilePolicy(DEFAULT_POLICY, DEFAULT_SECRETS);
    expect(stderr).toContain(`policy ${compiled.policyHash}`);
    for (const [path, file] of compiled.files) {
      expect(Buffer.compare(await readFile(join(dir, 'out', path)), file.bytes), path).toBe(0);
      expect(await mode(join(dir, 'out', path)), path).toBe(file.secret ? 0o600 : 0o644);
    }
    expect(compiled.files.get('realm/modelgate-realm.json')?.secret).toBe(true);
  });

  it('exits 2 naming the bad field, and 1 when a keycloak policy comes without its secrets', async () => {
    const bad = join(dir, 'bad.policy.json');
    await writeFile(
      bad,
      JSON.stringify({ ...DEFAULT_POLICY_INPUT, clients: [{ id: 'x1', models: ['nope'] }] }),
    );
    const invalid = await failure(['compile', '--policy', bad, '--out', 'never']);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toContain('clients[0].models[0]: unknown model');
    const good = join(dir, 'good.policy.json');
    await writeFile(good, JSON.stringify(DEFAULT_POLICY_INPUT));
    const noSecrets = await failure(['compile', '--policy', good, '--out', 'never']);
    expect(noSecrets.code).toBe(1);
    expect(noSecrets.stderr).toContain('needs its secrets file: pass --secrets');
  });

  it('compiles an oidc policy from its JWKS file alone', async () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    await writeFile(
      join(dir, 'issuer.jwks.json'),
      JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1' }] }),
    );
    const { keys: _keys, interactive: _interactive, ...rest } = DEFAULT_POLICY_INPUT;
    const file = join(dir, 'oidc.policy.json');
    await writeFile(
      file,
      JSON.stringify({
        ...rest,
        issuer: { kind: 'oidc', url: 'https://issuer.example/', jwks: 'issuer.jwks.json', audience: 'api' },
      }),
    );
    await run(TSX, [CLI, 'compile', '--policy', file, '--out', join(dir, 'oidc')]);
    const manifest = JSON.parse(await readFile(join(dir, 'oidc', 'manifest.json'), 'utf8'));
    expect(manifest.issuer).toEqual({ kind: 'oidc', url: 'https://issuer.example/' });
    const kong = JSON.parse(await readFile(join(dir, 'oidc', 'gateway', 'kong.json'), 'utf8'));
    expect(kong.consumers[0].jwt_secrets[0]).toMatchObject({ key: 'ops-console', algorithm: 'ES384' });
  });
});

describe('modelgate-policy rotate', { timeout: 60_000 }, () => {
  it('writes the Keycloak provider (0600), the new Kong config and the plan', async () => {
    const secrets = join(dir, 'two.secrets.json');
    await run(TSX, [CLI, 'secrets', '--out', secrets, '--generation', 'gen-1', 'gen-2']);
    expect(await mode(secrets)).toBe(0o600);
    const policy = join(dir, 'rotate.policy.json');
    await writeFile(policy, JSON.stringify(DEFAULT_POLICY_INPUT));
    const out = join(dir, 'rotation');
    await run(TSX, [CLI, 'rotate', '--policy', policy, '--secrets', secrets, '--to', 'gen-2', '--out', out]);
    expect(JSON.parse(await readFile(join(out, 'plan.json'), 'utf8'))).toEqual({
      from: 'gen-1',
      to: 'gen-2',
      retireProvider: 'modelgate-rsa-gen-1',
    });
    expect(await mode(join(out, 'keycloak-provider.json'))).toBe(0o600);
    const provider = JSON.parse(await readFile(join(out, 'keycloak-provider.json'), 'utf8'));
    expect(provider).toMatchObject({ name: 'modelgate-rsa-gen-2', providerId: 'rsa' });
  });
});
