#!/usr/bin/env node
import { runIfEntryPoint } from '../entry-point.js';
import { KeycloakEmulator } from './keycloak-emulator.js';
import { KEYCLOAK_HELP, KeycloakOptionsError, parseKeycloakArgs } from './keycloak-options.js';
import { RealmFileError, readRealmFiles } from './realm-files.js';

/** Exit codes: 0 after a stop or --help, 2 for bad arguments, 1 when the start fails (realm file, port). */
export const EXIT = { ok: 0, startFailed: 1, usage: 2 } as const;

export interface CliIo {
  stdout(text: string): void;
  /** One structured log line. */
  log(entry: Record<string, unknown>): void;
  /** Calls stop on SIGTERM or SIGINT. */
  onStopSignal(stop: () => Promise<void>): void;
}

/** `keycloak-emulator start-dev [kc.sh options]`: serves until SIGTERM/SIGINT. */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  let parsed: ReturnType<typeof parseKeycloakArgs>;
  try {
    parsed = parseKeycloakArgs([...argv], env);
  } catch (error) {
    if (!(error instanceof KeycloakOptionsError) && !(error instanceof TypeError)) throw error;
    // parseArgs reports unknown options as TypeError (ERR_PARSE_ARGS_*)
    io.stdout(`${error.message}\n\n${KEYCLOAK_HELP}`);
    return EXIT.usage;
  }
  if (parsed.kind === 'help') {
    io.stdout(KEYCLOAK_HELP);
    return EXIT.ok;
  }
  const { options } = parsed;
  let emulator: KeycloakEmulator;
  try {
    const realms = options.importRealm ? await readRealmFiles(options.importDir) : [];
    emulator = new KeycloakEmulator({ ...options, realms });
  } catch (error) {
    if (!(error instanceof RealmFileError) && !isNodeError(error)) throw error;
    io.log({ level: 'error', message: 'realm import failed', error: error.message });
    return EXIT.startFailed;
  }
  const stopped = new Promise<void>((resolve) => {
    io.onStopSignal(async () => {
      await emulator.stop();
      resolve();
    });
  });
  try {
    const started = await emulator.start();
    io.log({
      level: 'info',
      message: 'listening',
      ...started,
      realms: emulator.realms,
      hostname: options.hostname,
    });
  } catch (error) {
    if (!isNodeError(error)) throw error;
    io.log({ level: 'error', message: 'start failed', error: error.message });
    await emulator.stop();
    return EXIT.startFailed;
  }
  await stopped;
  return EXIT.ok;
}

function isNodeError(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).code === 'string';
}

function processIo(): CliIo {
  return {
    stdout: (text) => process.stdout.write(text),
    log: (entry) => process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`),
    onStopSignal: (stop) => {
      const onSignal = () => {
        stop().catch((error: unknown) => {
          process.stderr.write(`keycloak emulator: stop failed: ${String(error)}\n`);
          process.exit(EXIT.startFailed);
        });
      };
      process.once('SIGTERM', onSignal);
      process.once('SIGINT', onSignal);
    },
  };
}

runIfEntryPoint(
  import.meta.url,
  () => main(process.argv.slice(2), process.env, processIo()),
  EXIT.startFailed,
);
