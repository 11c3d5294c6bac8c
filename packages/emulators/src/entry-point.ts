import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Whether the module at `moduleUrl` is the script Node was started with (not merely imported). */
export function isEntryPoint(moduleUrl: string): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    // argv[1] is not a file (e.g. `node -e`): the module was imported, not run.
    return false;
  }
}

/**
 * Runs an emulator's `main` when its module is the entry point, exiting with the code it returns; a crash prints
 * its stack and exits with `crashExitCode`.
 */
export function runIfEntryPoint(moduleUrl: string, main: () => Promise<number>, crashExitCode: number): void {
  if (!isEntryPoint(moduleUrl)) return;
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(crashExitCode);
    },
  );
}
