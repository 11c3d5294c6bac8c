import { chmod, mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { GpuMode, ProviderName, RunningStack, StackDescription } from '@modelgate/stack';
import { clientSecretOf, TokenPool, writeStackDescription } from '@modelgate/stack';
import { Listr, ListrLogger, ProcessOutput } from 'listr2';
import { followAuditLog, formatAuditLine } from './audit-tail.js';
import { type MintedToken, stackSummary } from './stack-summary.js';
import { startStack } from './start-stack.js';

// `pnpm dev`: the whole stack from one policy, progress while it starts, then endpoints, clients, fresh tokens
// and commands to copy, then one line per request from the audit log, until Ctrl-C or SIGTERM tears it down.

export interface DevOptions {
  provider?: ProviderName;
  policy?: string;
  secrets?: string;
  stack?: string;
  writeEndpoints?: string;
  gpu: GpuMode;
  keycloak?: 'emulator' | 'distribution';
  /** Follow the audit log (default); off, the command waits for a signal only. */
  tail: boolean;
  /** Start, print, write the endpoints, stop: for scripts and tests. */
  exitWhenReady: boolean;
}

export interface DevIo {
  out(text: string): void;
  err(text: string): void;
  /** Resolves on the first SIGINT/SIGTERM; a second one exits at once. */
  stopRequested(): Promise<void>;
}

/** Where the endpoints go when --write-endpoints is not given. */
export function defaultStackFile(env: NodeJS.ProcessEnv = process.env): string {
  const cache = env.MODELGATE_CACHE_DIR || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'modelgate');
  return join(cache, 'dev', 'stack.json');
}

async function mintTokens(description: StackDescription): Promise<MintedToken[]> {
  const clients = description.clients.flatMap((client) => {
    try {
      return [{ clientId: client.id, clientSecret: clientSecretOf(client) }];
    } catch {
      return [];
    }
  });
  const pool = new TokenPool({ tokenEndpoint: description.issuer.tokenUrl, clients });
  return Promise.all(
    description.clients.map(async (client): Promise<MintedToken> => {
      try {
        const token = await pool.token(client.id);
        const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as {
          exp?: number;
          iat?: number;
        };
        return {
          client: client.id,
          token,
          ...(claims.exp && claims.iat ? { expiresIn: claims.exp - claims.iat } : {}),
        };
      } catch (error) {
        return { client: client.id, token: null, error: (error as Error).message };
      }
    }),
  );
}

/** Starts the stack with a progress display; resolves when every service is ready. */
async function startWithProgress(
  options: DevOptions,
  io: DevIo,
): Promise<{ stack: RunningStack; reason: string }> {
  const ready = new Map<
    string,
    { resolve: () => void; reject: (error: Error) => void; promise: Promise<void> }
  >();
  for (const service of ['keycloak', 'tf-serving', 'kong']) {
    let resolvePromise = () => {};
    let rejectPromise: (error: Error) => void = () => {};
    const promise = new Promise<void>((resolveReady, rejectReady) => {
      resolvePromise = resolveReady;
      rejectPromise = rejectReady;
    });
    promise.catch(() => undefined);
    ready.set(service, { resolve: resolvePromise, reject: rejectPromise, promise });
  }
  const titles: Record<string, string> = {
    keycloak: 'Keycloak (the issuer)',
    'tf-serving': 'TF Serving (the models)',
    kong: 'Kong (the gateway)',
  };
  let result: { stack: RunningStack; reason: string } | undefined;
  const tasks = new Listr(
    [
      {
        title: 'Starting the stack',
        task: (_context, task) =>
          task.newListr(
            [...ready.entries()].map(([service, deferred]) => ({
              title: titles[service] ?? service,
              task: async (_c, sub) => {
                const started = performance.now();
                await deferred.promise;
                sub.title = `${titles[service]}: ready in ${((performance.now() - started) / 1000).toFixed(1)} s`;
              },
            })),
            { concurrent: true, exitOnError: false },
          ),
      },
    ],
    {
      renderer: process.stderr.isTTY ? 'default' : 'simple',
      // progress on stderr: stdout carries the summary and the audit lines
      rendererOptions: {
        logger: new ListrLogger({ processOutput: new ProcessOutput(process.stderr, process.stderr) }),
      },
    },
  );
  const starting = startStack({
    ...(options.provider ? { provider: options.provider } : {}),
    ...(options.policy ? { policyFile: options.policy } : {}),
    ...(options.secrets ? { secretsFile: options.secrets } : {}),
    ...(options.stack ? { stackFile: options.stack } : {}),
    gpu: options.gpu,
    ...(options.keycloak ? { keycloak: options.keycloak } : {}),
    onNotice: (text) => io.err(`${text}\n`),
    onProgress: (event) => {
      const deferred = ready.get(event.service);
      if (event.state === 'ready') deferred?.resolve();
      if (event.state === 'failed') deferred?.reject(new Error(`${event.service} failed`));
    },
  }).then(
    (started) => {
      for (const deferred of ready.values()) deferred.resolve(); // remote: nothing to wait for
      result = { stack: started.stack, reason: started.choice.reason };
    },
    (error: unknown) => {
      for (const deferred of ready.values()) deferred.reject(error as Error);
      throw error;
    },
  );
  await Promise.all([tasks.run().catch(() => undefined), starting]);
  if (!result) throw new Error('the stack did not start');
  return result;
}

export async function runDev(options: DevOptions, io: DevIo): Promise<number> {
  const startedAt = performance.now();
  const { stack, reason } = await startWithProgress(options, io);
  const stackFile = resolve(options.writeEndpoints ?? defaultStackFile());
  const abort = new AbortController();
  try {
    await mkdir(dirname(stackFile), { recursive: true, mode: 0o700 });
    await writeStackDescription(stackFile, stack.description);
    await chmod(stackFile, 0o600);
    const tokens = await mintTokens(stack.description);
    io.out(
      stackSummary(stack.description, tokens, {
        stackFile,
        readyMs: performance.now() - startedAt,
        providerReason: reason,
      }),
    );
    if (options.exitWhenReady) return 0;
    const { auditLog } = stack.description;
    const following =
      options.tail && auditLog.kind === 'file'
        ? followAuditLog(auditLog.path, (line) => io.out(`  ${formatAuditLine(line)}\n`), abort.signal).catch(
            // the log cannot be read any more: say so and keep the stack up (a rejection left to the end
            // would end the process before the stack is stopped)
            (error: unknown) => io.err(`the audit log is no longer followed: ${(error as Error).message}\n`),
          )
        : Promise.resolve();
    await io.stopRequested();
    io.err('stopping the stack...\n');
    abort.abort();
    await following;
    return 0;
  } finally {
    abort.abort();
    const stopping = performance.now();
    await stack.stop();
    io.err(`stack stopped in ${((performance.now() - stopping) / 1000).toFixed(1)} s\n`);
  }
}
