import type { RunningStack } from './running-stack.js';
import { clientSecretOf, readStackDescription } from './stack-description.js';

// The remote provider: nothing is started; the stack description comes from a file (a deployed staging stack, a
// GPU box, or `pnpm dev --write-endpoints` in another shell). Client secrets missing from the file come from
// MODELGATE_CLIENT_SECRET_<ID>; a client with neither is refused here, before any test runs.

export async function remoteStack(file: string, env: NodeJS.ProcessEnv = process.env): Promise<RunningStack> {
  const description = await readStackDescription(file);
  const clients = description.clients.map((client) => ({ ...client, secret: clientSecretOf(client, env) }));
  return {
    description: { ...description, provider: 'remote', clients },
    processes: [],
    stop: async () => {},
  };
}
