import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  DEFAULT_POLICY,
  DEFAULT_SECRETS,
  DEFAULT_UPSTREAM,
  keycloakIssuer,
  type Policy,
  type SecretsFile,
} from '@modelgate/policy';
import { getContainerRuntimeClient, Network, type StartedNetwork } from 'testcontainers';
import { freePort } from '../process/free-port.js';
import type { RunningStack, StackProgress } from '../running-stack.js';
import { STACK_VERSION, type StackDescription } from '../stack-description.js';
import {
  GATEWAY_MAX_BODY_BYTES,
  issuerFacts,
  localModelBasePath,
  type StackFiles,
  stackClients,
  stackModels,
  writeStackFiles,
} from '../stack-files.js';
import { StackStartError } from '../stack-start-error.js';
import { KEYCLOAK_IMAGE, KeycloakContainer, type StartedKeycloakContainer } from './keycloak-container.js';
import { KONG_IMAGE, KongContainer, type StartedKongContainer } from './kong-container.js';
import {
  type StartedTfServingContainer,
  TF_SERVING_GPU_IMAGE,
  TF_SERVING_IMAGE,
  TF_SERVING_MODELS_DIR,
  TfServingContainer,
} from './tf-serving-container.js';

// The containers provider: the real images through Testcontainers, on one network with aliases, configured
// from the same compiled policy as the emulators. Keycloak and TF Serving start together; Kong once TF Serving,
// its upstream, is on the network. Every image can be replaced (a registry mirror, locally built images).

export const NETWORK_ALIASES = {
  kong: 'kong',
  keycloak: 'keycloak',
  tfServing: DEFAULT_UPSTREAM.host,
} as const;

export interface ContainerImages {
  kong: string;
  keycloak: string;
  tfServing: string;
}

export interface ContainerStackOptions {
  policy?: Policy;
  secrets?: SecretsFile;
  images?: Partial<ContainerImages>;
  /** Use TF Serving's GPU image with an NVIDIA device request. */
  gpu?: { enabled: boolean; name: string | null };
  onProgress?: (event: StackProgress) => void;
}

/** The images: those asked for, else the pinned real ones (the GPU variant of TF Serving when asked). */
/**
 * The images the environment replaces (a registry mirror, or locally built images as in CI):
 * MODELGATE_KONG_IMAGE, MODELGATE_KEYCLOAK_IMAGE, MODELGATE_TF_SERVING_IMAGE; an unset or empty one keeps
 * the default.
 */
export function imagesFromEnv(env: NodeJS.ProcessEnv): Partial<ContainerImages> {
  return {
    ...(env.MODELGATE_KONG_IMAGE ? { kong: env.MODELGATE_KONG_IMAGE } : {}),
    ...(env.MODELGATE_KEYCLOAK_IMAGE ? { keycloak: env.MODELGATE_KEYCLOAK_IMAGE } : {}),
    ...(env.MODELGATE_TF_SERVING_IMAGE ? { tfServing: env.MODELGATE_TF_SERVING_IMAGE } : {}),
  };
}

export function containerImages(options: Pick<ContainerStackOptions, 'images' | 'gpu'>): ContainerImages {
  return {
    kong: options.images?.kong ?? KONG_IMAGE,
    keycloak: options.images?.keycloak ?? KEYCLOAK_IMAGE,
    tfServing: options.images?.tfServing ?? (options.gpu?.enabled ? TF_SERVING_GPU_IMAGE : TF_SERVING_IMAGE),
  };
}

export interface ContainerDefinitions {
  keycloak: KeycloakContainer;
  tfServing: TfServingContainer;
  kong: KongContainer;
}

/** The three containers for a policy's files, not yet on a network nor started. */
export async function defineContainers(
  policy: Policy,
  files: StackFiles,
  images: ContainerImages,
  gpu: boolean,
): Promise<ContainerDefinitions> {
  const { issuer } = keycloakIssuer(policy);
  if (!files.realmImportDir) throw new Error('a keycloak issuer has a realm to import');
  const realm = await readFile(join(files.realmImportDir, `${issuer.realm}-realm.json`), 'utf8');
  const keycloak = new KeycloakContainer(images.keycloak).withRealmImport(issuer.realm, realm);
  const tfServing = new TfServingContainer(images.tfServing)
    .withModelConfig(await readFile(files.modelConfigFile, 'utf8'))
    .withMonitoringConfig(await readFile(files.monitoringConfigFile, 'utf8'));
  for (const model of policy.models)
    tfServing.withModel(model.name, localModelBasePath(policy, model.name, files));
  if (gpu) tfServing.withGpu();
  const kong = new KongContainer(images.kong)
    .withDeclarativeConfig(await readFile(files.kongConfigFile, 'utf8'))
    .withPluginDirectory(files.pluginDir)
    .withAuditLogDirectory(dirname(policy.logging.auditLogPath));
  return { keycloak, tfServing, kong };
}

/** Writes the stack's files for containers: models under /models, Kong's upstream by its network alias. */
export function writeContainerStackFiles(
  policy: Policy,
  secrets: SecretsFile,
  dir: string,
): Promise<StackFiles> {
  return writeStackFiles(policy, secrets, dir, {
    modelBasePath: (model) => `${TF_SERVING_MODELS_DIR}/${model}`,
    upstream: DEFAULT_UPSTREAM,
    auditLogPath: policy.logging.auditLogPath,
  });
}

/** Rejects with the first failure once every promise has settled, so that nothing is still starting. */
async function allSettledOrFirstFailure(promises: readonly Promise<unknown>[]): Promise<void> {
  const failed = (await Promise.allSettled(promises)).find(
    (result): result is PromiseRejectedResult => result.status === 'rejected',
  );
  if (failed) throw failed.reason;
}

export async function startContainerStack(options: ContainerStackOptions = {}): Promise<RunningStack> {
  const policy = options.policy ?? DEFAULT_POLICY;
  const secrets = options.secrets ?? (options.policy ? undefined : DEFAULT_SECRETS);
  if (!secrets) throw new Error('a keycloak issuer needs its secrets file to start a stack');
  const dir = await mkdtemp(join(tmpdir(), 'modelgate-containers-'));
  const files = await writeContainerStackFiles(policy, secrets, dir);
  const defined = await defineContainers(
    policy,
    files,
    containerImages(options),
    options.gpu?.enabled ?? false,
  );
  let network: StartedNetwork | undefined;
  const started: { stop(): Promise<unknown> }[] = [];
  const stopAll = async () => {
    for (const container of started.reverse()) await container.stop();
    await network?.stop();
    await rm(dir, { recursive: true, force: true });
  };
  const begun = performance.now();
  const start = async <T extends { stop(): Promise<unknown> }>(
    name: string,
    run: () => Promise<T>,
  ): Promise<T> => {
    options.onProgress?.({ service: name, state: 'starting', elapsedMs: performance.now() - begun });
    try {
      const container = await run();
      started.push(container);
      options.onProgress?.({ service: name, state: 'ready', elapsedMs: performance.now() - begun });
      return container;
    } catch (error) {
      options.onProgress?.({ service: name, state: 'failed', elapsedMs: performance.now() - begun });
      throw new StackStartError(name, error, []);
    }
  };
  try {
    network = await new Network().start();
    const onNetwork = network;
    const keycloakStarting = start<StartedKeycloakContainer>('keycloak', () =>
      defined.keycloak.withNetwork(onNetwork).withNetworkAliases(NETWORK_ALIASES.keycloak).start(),
    );
    const tfServingStarting = start<StartedTfServingContainer>('tf-serving', async () =>
      defined.tfServing
        .withHostPorts(await freePort(), await freePort())
        .withNetwork(onNetwork)
        .withNetworkAliases(NETWORK_ALIASES.tfServing)
        .start(),
    );
    // Kong needs its upstream, not the issuer (it checks tokens against the keys in its config): it starts
    // while Keycloak is still starting, so the stack is ready about when its slowest container is.
    const kongStarting = tfServingStarting.then(() =>
      start<StartedKongContainer>('kong', () =>
        defined.kong.withNetwork(onNetwork).withNetworkAliases(NETWORK_ALIASES.kong).start(),
      ),
    );
    // Settled, not raced: a container still starting when another fails would be left behind by stopAll.
    await allSettledOrFirstFailure([keycloakStarting, tfServingStarting, kongStarting]);
    const [keycloak, tfServing, kong] = await Promise.all([
      keycloakStarting,
      tfServingStarting,
      kongStarting,
    ]);
    const realm = keycloakIssuer(policy).issuer.realm;
    const description: StackDescription = {
      stackVersion: STACK_VERSION,
      provider: 'containers',
      startedAt: new Date().toISOString(),
      gateway: {
        http: kong.getProxyUrl(),
        grpc: kong.getGrpcAddress(),
        admin: kong.getAdminUrl(),
        status: kong.getStatusUrl(),
        maxBodyBytes: GATEWAY_MAX_BODY_BYTES,
        variants: null,
        upstream: DEFAULT_UPSTREAM,
      },
      issuer: {
        ...issuerFacts(policy),
        tokenUrl: keycloak.getTokenUrl(realm),
        jwksUrl: keycloak.getJwksUrl(realm),
        admin: { url: keycloak.getBaseUrl(), ...keycloak.getAdminCredentials() },
      },
      modelServer: {
        grpc: tfServing.getGrpcAddress(),
        rest: tfServing.getRestUrl(),
        metrics: tfServing.getMetricsUrl(),
      },
      clients: stackClients(policy, secrets),
      models: stackModels(policy),
      auditLog: { kind: 'container', container: kong.getId(), path: policy.logging.auditLogPath },
      gpu: options.gpu ?? { enabled: false, name: null },
    };
    let stopping: Promise<void> | undefined;
    const modelsReady = async () => {
      const deadline = Date.now() + 120_000;
      for (;;) {
        const missing = await Promise.all(
          policy.models.map(async (model) => {
            const response = await fetch(`${tfServing.getRestUrl()}/v1/models/${model.name}`).catch(
              () => null,
            );
            return response?.status === 200 && (await response.text()).includes('"AVAILABLE"')
              ? null
              : model.name;
          }),
        );
        if (missing.every((name) => name === null)) return;
        if (Date.now() > deadline)
          throw new Error(`tf-serving: ${missing.filter(Boolean).join(', ')} not AVAILABLE after a restart`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    };
    const tfServingOnly = (service: string) => {
      if (service !== 'tf-serving') {
        throw new Error(`the containers provider stops and starts tf-serving only (asked for ${service})`);
      }
    };
    return {
      description,
      processes: [],
      // The model server stopped and started again in place (same container, network alias and host ports).
      control: {
        async stopService(service) {
          tfServingOnly(service);
          const client = await getContainerRuntimeClient();
          await client.container.stop(client.container.getById(tfServing.getId()), { timeout: 10 });
        },
        async startService(service) {
          tfServingOnly(service);
          const client = await getContainerRuntimeClient();
          await client.container.start(client.container.getById(tfServing.getId()));
          await modelsReady();
        },
      },
      stop: () => {
        stopping ??= stopAll();
        return stopping;
      },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
