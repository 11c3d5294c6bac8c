import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  DEFAULT_POLICY,
  DEFAULT_SECRETS,
  keycloakIssuer,
  modelAccessKongEnvironment,
  type Policy,
  type SecretsFile,
  servedVersions,
  TF_SERVING_METRICS_PATH,
} from '@modelgate/policy';
import { type RealKeycloak, startRealKeycloak } from '@modelgate/policy/real-keycloak';
import { freePort } from '../process/free-port.js';
import { ManagedProcess } from '../process/managed-process.js';
import { httpCheck, waitUntilReady } from '../process/readiness.js';
import type { RunningStack, StackProgress } from '../running-stack.js';
import { STACK_VERSION, type StackDescription } from '../stack-description.js';
import {
  GATEWAY_MAX_BODY_BYTES,
  issuerFacts,
  localModelBasePath,
  realmPath,
  stackClients,
  stackModels,
  writeStackFiles,
} from '../stack-files.js';
import { StackStartError } from '../stack-start-error.js';

// The emulators provider: Kong, Keycloak and TF Serving stand-ins (@modelgate/emulators) as local processes on
// free loopback ports, configured from the same compiled policy the containers get. No engine needed.

/** The bootstrap admin the stack's Keycloak is started with (local, test-only). */
export const STACK_KEYCLOAK_ADMIN = { username: 'modelgate-admin', password: 'modelgate-admin' } as const;

export type ServiceName = 'keycloak' | 'tf-serving' | 'kong' | 'kong-no-auth' | 'kong-jwt';

export interface EmulatorStackOptions {
  policy?: Policy;
  /** A keycloak issuer's secrets; default: the default policy's test-only ones. */
  secrets?: SecretsFile;
  /** Where the stack's files go; default: a new temporary folder, removed at stop. */
  workDir?: string;
  /** Each service's progress: starting, ready (with its time), failed. */
  onProgress?: (event: StackProgress) => void;
  /** Each line a service logs. */
  onLog?: (service: ServiceName, line: string) => void;
  /** How long each service may take to be ready. */
  readyTimeoutMs?: number;
  signal?: AbortSignal;
  /** Extra environment for the service processes (e.g. MODELGATE_TFJS_BACKEND). */
  env?: NodeJS.ProcessEnv;
  /**
   * Which Keycloak: the emulator (default), or the real server as a local process from its Maven Central
   * distribution (`bash scripts/setup-keycloak.sh`; Java 17+), started by @modelgate/policy's harness.
   */
  keycloak?: 'emulator' | 'distribution';
  /**
   * Also run the gateway with no plugins and with jwt alone, beside the full policy, to the same model server
   * (`gateway.variants`): the load generator's auth-overhead arms. Two more Kong emulator processes.
   */
  gatewayVariants?: boolean;
}

/** The emulators' CLIs, from @modelgate/emulators' package.json `bin`. */
function emulatorBins(): Record<'tfServing' | 'keycloak' | 'kong', string> {
  const require = createRequire(import.meta.url);
  const manifest = require.resolve('@modelgate/emulators/package.json');
  const { bin } = require('@modelgate/emulators/package.json') as { bin: Record<string, string> };
  const at = (name: string) => join(dirname(manifest), bin[name] as string);
  return {
    tfServing: at('tensorflow_model_server'),
    keycloak: at('keycloak-emulator'),
    kong: at('modelgate-kong-emulator'),
  };
}

interface Ports {
  noAuthProxy: number;
  noAuthGrpc: number;
  noAuthStatus: number;
  jwtProxy: number;
  jwtGrpc: number;
  jwtStatus: number;
  proxy: number;
  grpc: number;
  admin: number;
  status: number;
  keycloak: number;
  keycloakManagement: number;
  tfGrpc: number;
  tfRest: number;
}

async function allocatePorts(): Promise<Ports> {
  const names = [
    'proxy',
    'grpc',
    'admin',
    'status',
    'keycloak',
    'keycloakManagement',
    'tfGrpc',
    'tfRest',
    'noAuthProxy',
    'noAuthGrpc',
    'noAuthStatus',
    'jwtProxy',
    'jwtGrpc',
    'jwtStatus',
  ] as const;
  const ports = {} as Ports;
  const taken = new Set<number>();
  for (const name of names) {
    let port = await freePort();
    while (taken.has(port)) port = await freePort();
    taken.add(port);
    ports[name] = port;
  }
  return ports;
}

/** Every served version of every model reports AVAILABLE over TF Serving's REST status API. */
function modelsAvailable(policy: Policy, restUrl: string): () => Promise<true | string> {
  return async () => {
    for (const model of policy.models) {
      const response = await fetch(`${restUrl}/v1/models/${model.name}`, {
        signal: AbortSignal.timeout(2000),
      });
      const body = (await response.json()) as { model_version_status?: { version: string; state: string }[] };
      const available = new Set(
        (body.model_version_status ?? [])
          .filter((status) => status.state === 'AVAILABLE')
          .map((s) => s.version),
      );
      const missing = servedVersions(model).filter((version) => !available.has(String(version)));
      if (missing.length > 0) return `${model.name} versions ${missing.join(', ')} not AVAILABLE yet`;
    }
    return true;
  };
}

/**
 * The gateway's config with fewer plugins, for measuring their cost: `no-auth` keeps the services and routes
 * and drops every plugin and consumer; `jwt` keeps the consumers' credentials and the jwt plugin alone.
 */
export function gatewayVariant(
  config: Record<string, unknown>,
  variant: 'no-auth' | 'jwt',
): Record<string, unknown> {
  type Entity = Record<string, unknown> & { plugins?: unknown[]; routes?: Entity[] };
  const withoutPlugins = (entity: Entity): Entity => {
    const { plugins: _plugins, ...rest } = entity;
    return rest.routes ? { ...rest, routes: rest.routes.map(withoutPlugins) } : rest;
  };
  const services = ((config.services as Entity[]) ?? []).map(withoutPlugins);
  const base = {
    _format_version: config._format_version,
    _comment: `${variant} variant: ${config._comment ?? ''}`,
    services,
  };
  if (variant === 'no-auth') return base;
  const consumers = ((config.consumers as Entity[]) ?? []).map((consumer) => {
    const { plugins: _plugins, acls: _acls, ...rest } = consumer;
    return rest;
  });
  const jwt = ((config.plugins as { name: string }[]) ?? []).filter((plugin) => plugin.name === 'jwt');
  return { ...base, consumers, plugins: jwt };
}

/** A start that failed because another process took one of the free ports first. */
function lostPortRace(error: unknown): boolean {
  return error instanceof StackStartError && error.logTail.some((line) => line.includes('EADDRINUSE'));
}

/** How many times a start that lost a port race is tried again with new ports. */
const PORT_RACE_ATTEMPTS = 3;

/**
 * Starts the three emulators for the policy and returns the stack description once all are ready. Ports are
 * picked free before the services bind them; a start that loses one to another process is tried again.
 */
export async function startEmulatorStack(options: EmulatorStackOptions = {}): Promise<RunningStack> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startEmulatorStackOnce(options);
    } catch (error) {
      if (attempt >= PORT_RACE_ATTEMPTS || !lostPortRace(error)) throw error;
    }
  }
}

async function startEmulatorStackOnce(options: EmulatorStackOptions): Promise<RunningStack> {
  const policy = options.policy ?? DEFAULT_POLICY;
  const secrets = options.secrets ?? (options.policy ? undefined : DEFAULT_SECRETS);
  if (policy.issuer.kind !== 'keycloak') {
    throw new Error(
      `the emulators provider runs the issuer itself: a policy with an ${policy.issuer.kind} issuer needs the remote provider`,
    );
  }
  if (!secrets) throw new Error('a keycloak issuer needs its secrets file to start a stack');
  const ownDir = options.workDir === undefined;
  const dir = options.workDir ?? (await mkdtemp(join(tmpdir(), 'modelgate-stack-')));
  const ports = await allocatePorts();
  const host = '127.0.0.1';
  const auditLogPath = join(dir, 'logs', 'audit.log');
  await mkdir(dirname(auditLogPath), { recursive: true });
  await writeFile(auditLogPath, '', { flag: 'a' });
  const files = await writeStackFiles(policy, secrets, join(dir, 'files'), {
    modelBasePath: (model, written) => localModelBasePath(policy, model, written),
    upstream: { host, restPort: ports.tfRest, grpcPort: ports.tfGrpc },
    auditLogPath,
  });
  const bins = emulatorBins();
  const env = { ...process.env, ...options.env };
  const readyTimeoutMs = options.readyTimeoutMs ?? 60_000;
  // Each service's command, kept so that one can be stopped and started again on the same ports (faults).
  const commands = new Map<ServiceName, { script: string; args: string[]; env: NodeJS.ProcessEnv }>();
  const running = new Map<ServiceName, ManagedProcess>();
  const spawnService = (name: ServiceName, script: string, args: string[], serviceEnv: NodeJS.ProcessEnv) => {
    commands.set(name, { script, args, env: serviceEnv });
    const child = new ManagedProcess({
      name,
      command: process.execPath,
      args: [script, ...args],
      env: serviceEnv,
      ...(options.onLog ? { onLine: (line: string) => options.onLog?.(name, line) } : {}),
    });
    running.set(name, child);
    return child;
  };
  let distribution: RealKeycloak | undefined;
  const stopAll = async () => {
    await Promise.all([...running.values()].map((child) => child.stop()));
    await distribution?.stop();
    if (ownDir) await rm(dir, { recursive: true, force: true });
  };
  /** The real Keycloak from its distribution, on the stack's ports, with the compiled realm imported. */
  const startDistribution = async () => {
    options.onProgress?.({ service: 'keycloak', state: 'starting', elapsedMs: 0 });
    try {
      const { issuer } = keycloakIssuer(policy);
      const realmFile = join(files.realmImportDir as string, `${issuer.realm}-realm.json`);
      distribution = await startRealKeycloak({
        realmFiles: [{ name: issuer.realm, json: await readFile(realmFile, 'utf8') }],
        httpPort: ports.keycloak,
        managementPort: ports.keycloakManagement,
        adminUser: STACK_KEYCLOAK_ADMIN.username,
        adminPassword: STACK_KEYCLOAK_ADMIN.password,
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (error) {
      options.onProgress?.({ service: 'keycloak', state: 'failed', elapsedMs: performance.now() - started });
      throw new StackStartError('keycloak', error, []);
    }
    options.onProgress?.({ service: 'keycloak', state: 'ready', elapsedMs: performance.now() - started });
  };

  const started = performance.now();
  const service = async (name: ServiceName, child: ManagedProcess, ready: () => Promise<true | string>) => {
    options.onProgress?.({ service: name, state: 'starting', elapsedMs: 0 });
    try {
      await Promise.race([
        waitUntilReady(name, ready, {
          timeoutMs: readyTimeoutMs,
          ...(options.signal ? { signal: options.signal } : {}),
        }),
        child.failedExit(),
      ]);
    } catch (error) {
      options.onProgress?.({ service: name, state: 'failed', elapsedMs: performance.now() - started });
      throw new StackStartError(name, error, child.tail());
    }
    options.onProgress?.({ service: name, state: 'ready', elapsedMs: performance.now() - started });
  };

  const realKeycloak = options.keycloak === 'distribution';
  const keycloak = realKeycloak
    ? undefined
    : spawnService(
        'keycloak',
        bins.keycloak,
        [
          'start-dev',
          `--http-host=${host}`,
          `--http-port=${ports.keycloak}`,
          `--http-management-port=${ports.keycloakManagement}`,
          '--import-realm',
          `--import-dir=${files.realmImportDir}`,
        ],
        {
          ...env,
          KC_BOOTSTRAP_ADMIN_USERNAME: STACK_KEYCLOAK_ADMIN.username,
          KC_BOOTSTRAP_ADMIN_PASSWORD: STACK_KEYCLOAK_ADMIN.password,
        },
      );
  const tfServing = spawnService(
    'tf-serving',
    bins.tfServing,
    [
      `--port=${ports.tfGrpc}`,
      `--rest_api_port=${ports.tfRest}`,
      `--model_config_file=${files.modelConfigFile}`,
      `--monitoring_config_file=${files.monitoringConfigFile}`,
    ],
    env,
  );
  const kong = spawnService('kong', bins.kong, ['docker-start'], {
    ...env,
    KONG_DATABASE: 'off',
    KONG_DECLARATIVE_CONFIG: files.kongConfigFile,
    KONG_PROXY_LISTEN: `${host}:${ports.proxy}, ${host}:${ports.grpc} http2`,
    KONG_ADMIN_LISTEN: `${host}:${ports.admin}`,
    KONG_STATUS_LISTEN: `${host}:${ports.status}`,
    ...modelAccessKongEnvironment(files.pluginDir),
  });
  const variants = options.gatewayVariants
    ? await Promise.all(
        (['no-auth', 'jwt'] as const).map(async (variant) => {
          const file = join(files.dir, `kong-${variant}.json`);
          const config = gatewayVariant(JSON.parse(await readFile(files.kongConfigFile, 'utf8')), variant);
          await writeFile(file, JSON.stringify(config, null, 2));
          const [proxyPort, grpcPort, statusPort] =
            variant === 'no-auth'
              ? [ports.noAuthProxy, ports.noAuthGrpc, ports.noAuthStatus]
              : [ports.jwtProxy, ports.jwtGrpc, ports.jwtStatus];
          const name: ServiceName = variant === 'no-auth' ? 'kong-no-auth' : 'kong-jwt';
          const child = spawnService(name, bins.kong, ['docker-start'], {
            ...env,
            KONG_DATABASE: 'off',
            KONG_DECLARATIVE_CONFIG: file,
            KONG_PROXY_LISTEN: `${host}:${proxyPort}, ${host}:${grpcPort} http2`,
            KONG_ADMIN_LISTEN: 'off',
            KONG_STATUS_LISTEN: `${host}:${statusPort}`,
            KONG_PLUGINS: 'bundled',
          });
          return {
            name,
            child,
            http: `http://${host}:${proxyPort}`,
            grpc: `${host}:${grpcPort}`,
            statusPort,
          };
        }),
      )
    : [];
  const tfRest = `http://${host}:${ports.tfRest}`;
  const keycloakUrl = `http://${host}:${ports.keycloak}`;
  const readiness: Record<ServiceName, () => Promise<true | string>> = {
    'kong-no-auth': httpCheck(`http://${host}:${ports.noAuthStatus}/status/ready`),
    'kong-jwt': httpCheck(`http://${host}:${ports.jwtStatus}/status/ready`),
    keycloak: httpCheck(`http://${host}:${ports.keycloakManagement}/health/ready`),
    'tf-serving': modelsAvailable(policy, tfRest),
    kong: httpCheck(`http://${host}:${ports.status}/status/ready`),
  };
  try {
    // All three at once: Kong connects to its upstreams per request, so it need not wait for TF Serving.
    await Promise.all([
      keycloak ? service('keycloak', keycloak, readiness.keycloak) : startDistribution(),
      service('tf-serving', tfServing, readiness['tf-serving']),
      service('kong', kong, readiness.kong),
      ...variants.map((variant) => service(variant.name, variant.child, readiness[variant.name])),
    ]);
  } catch (error) {
    await stopAll();
    throw error;
  }

  const realm = realmPath(policy);
  const description: StackDescription = {
    stackVersion: STACK_VERSION,
    provider: 'emulators',
    startedAt: new Date().toISOString(),
    gateway: {
      http: `http://${host}:${ports.proxy}`,
      grpc: `${host}:${ports.grpc}`,
      admin: `http://${host}:${ports.admin}`,
      status: `http://${host}:${ports.status}`,
      maxBodyBytes: GATEWAY_MAX_BODY_BYTES,
      variants:
        variants.length === 2
          ? {
              noAuth: { http: variants[0]?.http as string, grpc: variants[0]?.grpc as string },
              jwt: { http: variants[1]?.http as string, grpc: variants[1]?.grpc as string },
            }
          : null,
      upstream: { host, restPort: ports.tfRest, grpcPort: ports.tfGrpc },
    },
    issuer: {
      ...issuerFacts(policy),
      tokenUrl: `${keycloakUrl}${realm}/protocol/openid-connect/token`,
      jwksUrl: `${keycloakUrl}${realm}/protocol/openid-connect/certs`,
      admin: { url: keycloakUrl, ...STACK_KEYCLOAK_ADMIN },
    },
    modelServer: {
      grpc: `${host}:${ports.tfGrpc}`,
      rest: tfRest,
      metrics: `${tfRest}${TF_SERVING_METRICS_PATH}`,
    },
    clients: stackClients(policy, secrets),
    models: stackModels(policy),
    auditLog: { kind: 'file', path: auditLogPath },
    gpu: { enabled: false, name: null },
  };
  let stopping: Promise<void> | undefined;
  const known = (name: string): ServiceName => {
    if (!commands.has(name as ServiceName))
      throw new Error(`no service ${name} (known: ${[...commands.keys()].join(', ')})`);
    return name as ServiceName;
  };
  return {
    description,
    get processes() {
      return [...running.values()].map((child) => ({ service: child.name, pid: child.pid ?? -1 }));
    },
    control: {
      async stopService(name) {
        await running.get(known(name))?.stop();
      },
      async startService(name) {
        const service = known(name);
        const current = running.get(service);
        if (current && !current.stopping) return;
        const command = commands.get(service) as { script: string; args: string[]; env: NodeJS.ProcessEnv };
        const child = spawnService(service, command.script, command.args, command.env);
        await Promise.race([
          waitUntilReady(service, readiness[service], { timeoutMs: readyTimeoutMs }),
          child.failedExit(),
        ]);
      },
    },
    stop: () => {
      stopping ??= stopAll();
      return stopping;
    },
  };
}
