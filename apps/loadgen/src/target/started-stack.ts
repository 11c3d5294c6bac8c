import { DEFAULT_POLICY, DEFAULT_SECRETS } from '@modelgate/policy';
import {
  imagesFromEnv,
  type RunningStack,
  type StackProgress,
  startContainerStack,
  startEmulatorStack,
} from '@modelgate/stack';

// A stack started on the spot for one run (`--provider`), from the default policy, and stopped after it.
// Same calls as apps/gateway-e2e's startStack for these two providers; a policy of your own: start it with
// `pnpm dev --write-endpoints FILE` and pass `--stack FILE`.

export async function startStackFor(
  provider: 'emulators' | 'containers',
  onProgress: (event: StackProgress) => void,
  env: NodeJS.ProcessEnv,
): Promise<RunningStack> {
  if (provider === 'emulators') {
    // with the gateway's no-plugin and jwt-only variants: the auth-overhead A/B's middle arms
    return startEmulatorStack({
      policy: DEFAULT_POLICY,
      secrets: DEFAULT_SECRETS,
      onProgress,
      env,
      gatewayVariants: true,
    });
  }
  return startContainerStack({
    policy: DEFAULT_POLICY,
    secrets: DEFAULT_SECRETS,
    images: imagesFromEnv(env),
    gpu: { enabled: false, name: null },
    onProgress,
  });
}
