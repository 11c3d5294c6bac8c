import { resolve } from 'node:path';
import {
  DEFAULT_POLICY,
  DEFAULT_SECRETS,
  loadPolicy,
  loadSecrets,
  type Policy,
  type SecretsFile,
} from '@modelgate/policy';
import {
  chooseProvider,
  decideGpu,
  engineAnswers,
  engineEndpoint,
  engineHasNvidiaRuntime,
  type GpuDecision,
  type GpuMode,
  imagesFromEnv,
  listNvidiaGpus,
  type ProviderChoice,
  type ProviderName,
  type RunningStack,
  remoteStack,
  type ServiceName,
  type StackProgress,
  startContainerStack,
  startEmulatorStack,
} from '@modelgate/stack';

// One way to a running stack for every command (pnpm dev, the contract suite's global setup, the load
// generator): pick the provider, load the policy, start it, hand back the stack description.

export interface StartStackOptions {
  provider?: ProviderName;
  /** Policy and secrets files; default: the built-in default policy and its test-only secrets. */
  policyFile?: string;
  secretsFile?: string;
  /** remote: the stack description file. */
  stackFile?: string;
  gpu?: GpuMode;
  /** emulators provider: the Keycloak emulator (default) or the real server from its distribution. */
  keycloak?: 'emulator' | 'distribution';
  onProgress?: (event: StackProgress) => void;
  onLog?: (service: ServiceName, line: string) => void;
  /** Notices for the user (a fallback taken, the GPU decision). */
  onNotice?: (text: string) => void;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
}

export interface StartedStack {
  stack: RunningStack;
  choice: ProviderChoice;
  gpu: GpuDecision | null;
}

/** A provider that cannot run here, or an option it cannot honour. */
export class ProviderUnavailableError extends Error {
  override readonly name = 'ProviderUnavailableError';
}

async function policyAndSecrets(
  options: StartStackOptions,
): Promise<{ policy: Policy; secrets: SecretsFile | undefined }> {
  if (!options.policyFile) return { policy: DEFAULT_POLICY, secrets: DEFAULT_SECRETS };
  const policy = await loadPolicy(resolve(options.policyFile));
  const secrets = options.secretsFile ? await loadSecrets(resolve(options.secretsFile)) : undefined;
  return { policy, secrets };
}

export async function startStack(options: StartStackOptions): Promise<StartedStack> {
  const env = options.env ?? process.env;
  const endpoint = engineEndpoint(env);
  const requested = options.provider ?? (options.stackFile ? 'remote' : undefined);
  const choice = chooseProvider(requested, requested ? false : await engineAnswers(endpoint), endpoint);
  if (choice.provider === 'remote') {
    if (!options.stackFile) throw new ProviderUnavailableError('--provider remote needs --stack FILE');
    return { stack: await remoteStack(options.stackFile, env), choice, gpu: null };
  }
  const { policy, secrets } = await policyAndSecrets(options);
  const gpuMode = options.gpu ?? 'auto';
  if (choice.provider === 'containers') {
    const gpus = gpuMode === 'off' ? [] : await listNvidiaGpus();
    const gpu = decideGpu(gpuMode, gpus, gpuMode === 'off' ? false : await engineHasNvidiaRuntime(endpoint));
    options.onNotice?.(gpu.reason);
    const stack = await startContainerStack({
      policy,
      ...(secrets ? { secrets } : {}),
      images: imagesFromEnv(env),
      gpu: { enabled: gpu.useGpu, name: gpu.gpus[0]?.name ?? null },
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    return { stack, choice, gpu };
  }
  const gpu = decideGpu(gpuMode, gpuMode === 'off' ? [] : await listNvidiaGpus(), false);
  if (gpu.useGpu) {
    if (gpuMode === 'on') {
      throw new ProviderUnavailableError(
        '--gpu on needs the containers provider (the emulators run on the CPU)',
      );
    }
    options.onNotice?.(
      `${gpu.reason}; the emulators run on the CPU (the GPU image needs the containers provider)`,
    );
  }
  const stack = await startEmulatorStack({
    policy,
    ...(options.keycloak ? { keycloak: options.keycloak } : {}),
    ...(secrets ? { secrets } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.onLog ? { onLog: options.onLog } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    env,
  });
  return { stack, choice, gpu };
}
