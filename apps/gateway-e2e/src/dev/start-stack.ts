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
  type GpuDecision,
  type GpuMode,
  listNvidiaGpus,
  type ProviderChoice,
  type ProviderName,
  type RunningStack,
  remoteStack,
  type ServiceName,
  type StackProgress,
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
  let choice = chooseProvider(requested, requested ? false : await engineAnswers(endpoint), endpoint);
  if (choice.provider === 'remote') {
    if (!options.stackFile) throw new ProviderUnavailableError('--provider remote needs --stack FILE');
    return { stack: await remoteStack(options.stackFile, env), choice, gpu: null };
  }
  if (choice.provider === 'containers') {
    if (requested === 'containers') {
      throw new ProviderUnavailableError(
        'the containers provider (Testcontainers modules for Kong, Keycloak and TF Serving) is not in this build yet; run with --provider emulators',
      );
    }
    options.onNotice?.(
      `${choice.reason}, but the containers provider is not in this build yet: using the emulators`,
    );
    choice = { provider: 'emulators', reason: 'containers provider not available yet' };
  }
  const gpuMode = options.gpu ?? 'auto';
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
  const { policy, secrets } = await policyAndSecrets(options);
  const stack = await startEmulatorStack({
    policy,
    ...(secrets ? { secrets } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.onLog ? { onLog: options.onLog } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    env,
  });
  return { stack, choice, gpu };
}
