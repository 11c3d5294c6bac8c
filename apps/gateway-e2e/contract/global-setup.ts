import { mkdir, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import {
  DEFAULT_POLICY,
  DEFAULT_SECRETS,
  keycloakIssuer,
  loadPolicy,
  loadSecrets,
  signingKey,
} from '@modelgate/policy';
import type { ProviderName, RunningStack, StackDescription, StackProgress } from '@modelgate/stack';
import type { TestProject } from 'vitest/node';
import { startStack } from '../src/dev/start-stack.js';
import { writeAccessReport } from './support/access-report.js';

// One stack for the whole contract suite, started once: MODELGATE_PROVIDER (emulators, containers, remote;
// default: containers where an engine answers, else emulators), MODELGATE_STACK_FILE for remote,
// MODELGATE_POLICY_FILE / MODELGATE_SECRETS_FILE for a policy of your own. The suite reads only the stack
// description, and the issuer's signing key where the secrets are known (to forge tokens with bad claims).

declare module 'vitest' {
  export interface ProvidedContext {
    stack: StackDescription;
    /** PKCS#8 PEM of the key the issuer signs with, where known; null (e.g. a remote stack) skips forged-claim cases. */
    signingKeyPem: string | null;
    reportDir: string;
    /** The policy and secrets files the stack was started from (null: the built-in default), for key rotation. */
    policyFile: string | null;
    secretsFile: string | null;
    /** The harness's loopback endpoint to stop and start one service (POST /services/<name>/stop|start), or null. */
    controlUrl: string | null;
  }
}

const PROVIDERS = ['emulators', 'containers', 'remote'] as const;

function provider(env: NodeJS.ProcessEnv): ProviderName | undefined {
  const value = env.MODELGATE_PROVIDER;
  if (value === undefined || value === '') return undefined;
  if (!(PROVIDERS as readonly string[]).includes(value)) {
    throw new Error(`MODELGATE_PROVIDER=${value}: expected one of ${PROVIDERS.join(', ')}`);
  }
  return value as ProviderName;
}

async function signingKeyPem(env: NodeJS.ProcessEnv): Promise<string | null> {
  const policy = env.MODELGATE_POLICY_FILE ? await loadPolicy(env.MODELGATE_POLICY_FILE) : DEFAULT_POLICY;
  if (policy.issuer.kind !== 'keycloak') return null;
  const secrets = env.MODELGATE_SECRETS_FILE
    ? await loadSecrets(env.MODELGATE_SECRETS_FILE)
    : env.MODELGATE_POLICY_FILE
      ? undefined
      : DEFAULT_SECRETS;
  if (!secrets) return null;
  const key = signingKey(secrets, keycloakIssuer(policy).keys.activeGeneration);
  return key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** Serves the stack's service control to the test workers, on loopback, for the fault cases. */
async function controlServer(stack: RunningStack): Promise<Server | null> {
  const control = stack.control;
  if (!control) return null;
  const server = createServer((request, response) => {
    const match = /^\/services\/([a-z-]+)\/(stop|start)$/.exec(request.url ?? '');
    if (request.method !== 'POST' || !match) {
      response.writeHead(404).end();
      return;
    }
    const [, service, action] = match as unknown as [string, string, 'stop' | 'start'];
    (action === 'stop' ? control.stopService(service) : control.startService(service)).then(
      () => response.writeHead(204).end(),
      (error: unknown) => response.writeHead(500).end(error instanceof Error ? error.message : String(error)),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

/** `stack ready in 17.9 s; keycloak 15.9 s, tf-serving 1.7 s, kong 1.6 s`: each service from its own start. */
function readyTimes(progress: readonly StackProgress[]): string {
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const services = [...new Set(progress.map((event) => event.service))].map((service) => {
    const at = (state: StackProgress['state']) =>
      progress.find((event) => event.service === service && event.state === state)?.elapsedMs ?? 0;
    return `${service} ${seconds(at('ready') - at('starting'))}`;
  });
  const ready = Math.max(0, ...progress.map((event) => event.elapsedMs));
  return `stack ready in ${seconds(ready)}; ${services.join(', ')}`;
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const env = process.env;
  const requested = provider(env);
  const reportDir = fileURLToPath(new URL('../reports/', import.meta.url));
  await rm(reportDir, { recursive: true, force: true });
  await mkdir(`${reportDir}results`, { recursive: true });
  const progress: StackProgress[] = [];
  const started = await startStack({
    ...(requested ? { provider: requested } : {}),
    ...(env.MODELGATE_STACK_FILE ? { stackFile: env.MODELGATE_STACK_FILE } : {}),
    ...(env.MODELGATE_POLICY_FILE ? { policyFile: env.MODELGATE_POLICY_FILE } : {}),
    ...(env.MODELGATE_SECRETS_FILE ? { secretsFile: env.MODELGATE_SECRETS_FILE } : {}),
    gpu: 'off',
    // MODELGATE_KEYCLOAK=distribution: the real Keycloak in the emulators stack (Keycloak-facing cases on it)
    ...(env.MODELGATE_KEYCLOAK === 'distribution' ? { keycloak: 'distribution' as const } : {}),
    onProgress: (event) => progress.push(event),
    onNotice: (text) => process.stderr.write(`contract suite: ${text}\n`),
  });
  const { description } = started.stack;
  process.stderr.write(
    `contract suite: ${description.provider} stack (${started.choice.reason}), gateway ${description.gateway.http}\n`,
  );
  process.stderr.write(`contract suite: ${readyTimes(progress)}\n`);
  project.provide('stack', description);
  project.provide('signingKeyPem', await signingKeyPem(env));
  project.provide('reportDir', reportDir);
  project.provide('policyFile', env.MODELGATE_POLICY_FILE || null);
  project.provide('secretsFile', env.MODELGATE_SECRETS_FILE || null);
  const control = await controlServer(started.stack);
  project.provide(
    'controlUrl',
    control ? `http://127.0.0.1:${(control.address() as AddressInfo).port}` : null,
  );
  return async () => {
    try {
      await writeAccessReport(reportDir, description);
    } finally {
      control?.close();
      await started.stack.stop();
    }
  };
}
