import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { gatewayVerificationKey, kongConfig, type UpstreamOptions } from './gateway/kong-config.js';
import { signingCertificate } from './identity/certificate.js';
import { keycloakRealm } from './identity/realm.js';
import { type SecretsFile, signingKey } from './identity/secrets.js';
import { validateKongConfig } from './kong-validator/index.js';
import { MODEL_ACCESS_LUA_DIR, MODEL_ACCESS_PLUGIN } from './model-access/model-access-config.js';
import { MODEL_ACCESS_PLUGIN_SCHEMA } from './model-access/model-access-plugin-schema.js';
import { installedVersion, packageJsonVersion } from './package-versions.js';
import { canonicalJson, issuerUrl, keycloakIssuer, type Policy, policyHash } from './policy.js';
import { PRODUCT_VERSIONS } from './product-versions.js';

// What one policy compiles to, as files: the Keycloak realm (for a Keycloak issuer), the Kong declarative
// config (validated with Kong 3.9's rules first: a config Kong would refuse is never written), the
// modelgate-model-access plugin's Lua to mount into Kong, the public keys and certificate, and a manifest.

export interface CompiledFile {
  bytes: Uint8Array;
  /** Client secrets and private keys: written with mode 0600 and never printed. */
  secret: boolean;
}

export interface CompileManifest {
  generator: '@modelgate/policy';
  policyHash: string;
  issuer: { kind: Policy['issuer']['kind']; url: string };
  tools: Record<string, string>;
  files: { path: string; sha256: string; bytes: number; secret: boolean }[];
}

export interface CompiledPolicy {
  policyHash: string;
  /** Paths relative to the output folder. */
  files: Map<string, CompiledFile>;
  manifest: CompileManifest;
}

const encoder = new TextEncoder();
const json = (value: unknown) => encoder.encode(`${JSON.stringify(value, null, 2)}\n`);

/** The plugin's Lua files, relative to kong-plugins/ (the folder to put on Kong's Lua path). */
function pluginFiles(): Map<string, Uint8Array> {
  const folder = join('kong', 'plugins', MODEL_ACCESS_PLUGIN.name);
  const files = new Map<string, Uint8Array>();
  for (const name of readdirSync(join(MODEL_ACCESS_LUA_DIR, folder)).sort()) {
    if (!name.endsWith('.lua')) continue;
    files.set(`${folder}/${name}`, readFileSync(join(MODEL_ACCESS_LUA_DIR, folder, name)));
  }
  return files;
}

export interface CompileOptions {
  /** Where Kong finds TF Serving inside the stack's network (the default: host tf-serving, 8500/8501). */
  upstream?: UpstreamOptions;
}

/**
 * Compiles a policy. A Keycloak issuer needs its secrets file (keys, client secrets); an OIDC issuer needs
 * none. Pure: the same policy, secrets and package versions give identical bytes.
 */
export async function compilePolicy(
  policy: Policy,
  secrets: SecretsFile | undefined,
  options: CompileOptions = {},
): Promise<CompiledPolicy> {
  const files = new Map<string, CompiledFile>();
  const add = (path: string, bytes: Uint8Array, secret = false) => files.set(path, { bytes, secret });
  add('policy.json', json(JSON.parse(canonicalJson(policy))));
  const gateway = kongConfig(policy, secrets, options.upstream);
  validateKongConfig(gateway, { plugins: [MODEL_ACCESS_PLUGIN_SCHEMA] });
  add('gateway/kong.json', json(gateway));
  for (const [path, bytes] of pluginFiles()) add(`kong-plugins/${path}`, bytes);
  const verification = gatewayVerificationKey(policy, secrets);
  add(`keys/${verification.kid}.public.pem`, encoder.encode(verification.publicKeyPem));
  if (policy.issuer.kind === 'keycloak' && secrets) {
    const { issuer, keys } = keycloakIssuer(policy);
    // The realm holds client secrets, the user's password and the private key.
    add(`realm/${issuer.realm}-realm.json`, json(await keycloakRealm(policy, secrets)), true);
    const key = signingKey(secrets, keys.activeGeneration);
    add(`keys/${key.id}.certificate.pem`, encoder.encode(await signingCertificate(key, keys)));
  }
  const hash = policyHash(policy);
  const manifest: CompileManifest = {
    generator: '@modelgate/policy',
    policyHash: hash,
    issuer: { kind: policy.issuer.kind, url: issuerUrl(policy) },
    tools: {
      '@modelgate/policy': packageJsonVersion(new URL('../package.json', import.meta.url)),
      '@modelgate/proto': installedVersion('@modelgate/proto'),
      kong: PRODUCT_VERSIONS.kong,
      keycloak: PRODUCT_VERSIONS.keycloak,
    },
    files: [...files.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([path, file]) => ({
        path,
        sha256: createHash('sha256').update(file.bytes).digest('hex'),
        bytes: file.bytes.byteLength,
        secret: file.secret,
      })),
  };
  add('manifest.json', json(manifest));
  return { policyHash: hash, files, manifest };
}

/** Writes a compiled policy under `outDir`: secrets with mode 0600, the rest 0644. */
export function writeCompiledPolicy(compiled: CompiledPolicy, outDir: string): Promise<void> {
  return writeCompiledFiles(compiled.files, outDir);
}

/** Writes files under `outDir` (paths relative to it): secrets with mode 0600, the rest 0644. */
export async function writeCompiledFiles(files: Map<string, CompiledFile>, outDir: string): Promise<void> {
  for (const [path, file] of files) {
    const target = join(outDir, path);
    await mkdir(dirname(target), { recursive: true });
    const mode = file.secret ? 0o600 : 0o644;
    await writeFile(target, file.bytes, { mode });
    await chmod(target, mode); // writeFile keeps the mode of a file that already existed
  }
}
