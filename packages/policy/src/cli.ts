#!/usr/bin/env node
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import { compilePolicy, writeCompiledFiles, writeCompiledPolicy } from './compile.js';
import { DEFAULT_POLICY_INPUT, DEFAULT_SECRETS_FILE } from './default-policy.js';
import { keyRotationPlan } from './identity/key-rotation.js';
import { createSecrets, loadSecrets, type SecretsFile, TEST_ONLY_NOTICE } from './identity/secrets.js';
import { issuerUrl, loadPolicy, type Policy, parsePolicy, servedVersions } from './policy.js';
import { reportCliFailure } from './policy-error.js';

// pnpm runs package scripts in the package folder; resolve paths against where the user typed the command.
const userCwd = process.env.INIT_CWD ?? process.cwd();

interface PolicyOptions {
  policy?: string;
  secrets?: string;
}

function stage(text: string): () => void {
  const started = performance.now();
  process.stderr.write(`${text}...`);
  return () => process.stderr.write(` ${Math.round(performance.now() - started)} ms\n`);
}

async function policyOf(options: PolicyOptions): Promise<Policy> {
  return options.policy
    ? loadPolicy(resolve(userCwd, options.policy))
    : parsePolicy(DEFAULT_POLICY_INPUT, 'default policy');
}

/** The secrets a Keycloak issuer needs: the file given, or the default policy's test-only one for it. */
async function secretsOf(policy: Policy, options: PolicyOptions): Promise<SecretsFile | undefined> {
  if (options.secrets) return loadSecrets(resolve(userCwd, options.secrets));
  if (policy.issuer.kind === 'oidc') return undefined;
  if (options.policy) {
    throw new Error(
      'a policy with a keycloak issuer needs its secrets file: pass --secrets (make one with `modelgate-policy secrets`)',
    );
  }
  return loadSecrets(fileURLToPath(DEFAULT_SECRETS_FILE));
}

const policyOption = () =>
  new Option('-p, --policy <file>', 'policy JSON file').default(undefined, 'the built-in default policy');
const secretsOption = () =>
  new Option('-s, --secrets <file>', 'secrets file (signing keys, seed) of a keycloak issuer').default(
    undefined,
    "the default policy's test-only secrets; an oidc issuer needs none",
  );

function summary(policy: Policy): string {
  const lines = [`issuer   ${policy.issuer.kind} ${issuerUrl(policy)} (audience ${policy.issuer.audience})`];
  lines.push(
    `access   ${policy.authorization.mode === 'grants' ? 'grants from the policy' : `token claim ${policy.authorization.claimPath.join('.')}, permission ${policy.authorization.permission}`}`,
  );
  for (const model of policy.models) {
    const source =
      model.source.kind === 'fixture' ? `fixture ${model.source.fixture}` : `${model.source.basePath}`;
    lines.push(
      `model    ${model.name}: ${source}, versions ${model.versions.join(', ')} (served ${servedVersions(model).join(', ')})`,
    );
    if (model.source.kind === 'path') {
      const saved = model.source.savedModels.at(-1);
      const tensors = (list: { alias: string; dtype: string; shape: number[] | null }[]) =>
        list.map((t) => `${t.alias} ${t.dtype} [${t.shape?.join(',') ?? '?'}]`).join('; ');
      if (saved) {
        lines.push(
          `           ${saved.signature.key} (${saved.signature.methodName}): ${tensors(saved.signature.inputs)} -> ${tensors(saved.signature.outputs)}`,
        );
      }
    }
  }
  for (const client of policy.clients) {
    lines.push(`client   ${client.id}: ${client.models.join(', ') || '(no model)'}`);
  }
  return `${lines.join('\n')}\n`;
}

const program = new Command('modelgate-policy')
  .description(
    'Check a modelgate policy and compile it to the Keycloak realm, the Kong config, plugin and keys.',
  )
  .showHelpAfterError()
  .addHelpText(
    'after',
    '\nExit codes: 0 done, 2 invalid policy or secrets (the message names the field), 1 any other failure.',
  );

program
  .command('validate')
  .description('check a policy (and read its own models and JWKS file) and print what it says')
  .addOption(policyOption())
  .action(async (options: PolicyOptions) => {
    const policy = await policyOf(options);
    process.stdout.write(summary(policy));
  });

program
  .command('compile')
  .description(
    'write the realm, the Kong declarative config, the plugin, the keys and a manifest to a folder',
  )
  .requiredOption('-o, --out <dir>', 'output folder (created if missing; existing files are overwritten)')
  .addOption(policyOption())
  .addOption(secretsOption())
  .option('--upstream-host <host>', "TF Serving's host name as Kong reaches it", 'tf-serving')
  .option('--upstream-rest-port <port>', "TF Serving's REST port", '8501')
  .option('--upstream-grpc-port <port>', "TF Serving's gRPC port", '8500')
  .action(
    async (
      options: PolicyOptions & {
        out: string;
        upstreamHost: string;
        upstreamRestPort: string;
        upstreamGrpcPort: string;
      },
    ) => {
      const outDir = resolve(userCwd, options.out);
      const policy = await policyOf(options);
      const secrets = await secretsOf(policy, options);
      let done = stage(`compiling the policy (${policy.issuer.kind} issuer, ${policy.models.length} models)`);
      const compiled = await compilePolicy(policy, secrets, {
        upstream: {
          host: options.upstreamHost,
          restPort: Number(options.upstreamRestPort),
          grpcPort: Number(options.upstreamGrpcPort),
        },
      });
      done();
      done = stage(`writing ${compiled.files.size} files to ${outDir}`);
      await writeCompiledPolicy(compiled, outDir);
      done();
      process.stderr.write(`policy ${compiled.policyHash}\n`);
    },
  );

program
  .command('secrets')
  .description('make a new test-only secrets file: a random seed and an RSA-2048 signing key per generation')
  .requiredOption('-o, --out <file>', 'file to write (mode 0600); refuses to overwrite')
  .option('-g, --generation <id...>', 'key generation ids', ['gen-1'])
  .action(async (options: { out: string; generation: string[] }) => {
    const file = resolve(userCwd, options.out);
    const secrets = createSecrets(options.generation);
    await writeFile(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    process.stderr.write(
      `wrote ${file} (${options.generation.length} key generations). ${TEST_ONLY_NOTICE}\n`,
    );
  });

program
  .command('rotate')
  .description(
    'write what each side needs to move a keycloak issuer to another key generation of the secrets file',
  )
  .requiredOption('-t, --to <generation>', 'the key generation to move to')
  .requiredOption('-o, --out <dir>', 'output folder')
  .addOption(policyOption())
  .addOption(secretsOption())
  .addHelpText(
    'after',
    "\nOrder: 1. POST keycloak-provider.json to /admin/realms/<realm>/components; 2. POST kong.json to Kong's" +
      '\n/config; 3. disable the provider named in plan.json. See the README, "Key rotation".',
  )
  .action(async (options: PolicyOptions & { to: string; out: string }) => {
    const outDir = resolve(userCwd, options.out);
    const policy = await policyOf(options);
    const secrets = await secretsOf(policy, options);
    if (!secrets) throw new Error('an oidc issuer rotates its own keys: recompile with its new JWKS file');
    const plan = await keyRotationPlan(policy, secrets, options.to);
    const summary = { from: plan.from, to: plan.to, retireProvider: plan.retireProvider };
    await writeCompiledFiles(
      new Map([
        // the provider holds the new private key
        ['keycloak-provider.json', { bytes: jsonBytes(plan.keycloakProvider), secret: true }],
        ['kong.json', { bytes: jsonBytes(plan.kongConfig), secret: false }],
        ['plan.json', { bytes: jsonBytes(summary), secret: false }],
      ]),
      outDir,
    );
    process.stderr.write(
      `rotation ${plan.from} -> ${plan.to} written to ${join(outDir, 'plan.json')} and beside it\n`,
    );
  });

function jsonBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`);
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  process.exitCode = reportCliFailure('modelgate-policy', error);
}
