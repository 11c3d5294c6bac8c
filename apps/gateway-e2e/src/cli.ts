#!/usr/bin/env node
import { PolicyError } from '@modelgate/policy';
import { GpuUnavailableError, StackDescriptionError, StackStartError } from '@modelgate/stack';
import { Command, InvalidArgumentError, Option } from 'commander';
import { runDev } from './dev/dev-command.js';
import { ProviderUnavailableError } from './dev/start-stack.js';
import { runPredict } from './predict/predict-command.js';

// `modelgate dev` (behind `pnpm dev`) and `modelgate predict`. Exit codes: 0 done; 1 the stack failed to start
// (the service and its last log lines are printed); 2 bad usage, policy, secrets or stack file; 3 the prediction
// was refused.

const EXIT = { failed: 1, usage: 2 } as const;

// pnpm runs scripts in the package folder; relative paths mean where the user typed the command.
const userCwd = process.env.INIT_CWD ?? process.cwd();
if (userCwd !== process.cwd()) process.chdir(userCwd);

function positiveInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new InvalidArgumentError('must be a positive integer');
  return parsed;
}

function stopSignal(): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      seen += 1;
      if (seen === 1) return resolve();
      process.stderr.write(`${signal} again: exiting without waiting for the teardown\n`);
      process.exit(signal === 'SIGINT' ? 130 : 143);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

const program = new Command('modelgate')
  .description('A secured TensorFlow Serving gateway (Kong, Keycloak, TF Serving) from one policy.')
  .showHelpAfterError();

program
  .command('dev', { isDefault: true })
  .description('start the stack, print endpoints, clients and tokens, then follow the audit log until Ctrl-C')
  .addOption(
    new Option('--provider <name>', 'containers, emulators or remote')
      .choices(['containers', 'emulators', 'remote'])
      .default(undefined, 'containers where an engine answers, else emulators'),
  )
  .addOption(
    new Option('-p, --policy <file>', 'policy JSON file').default(undefined, 'the built-in default policy'),
  )
  .addOption(
    new Option('-s, --secrets <file>', "the policy's secrets file (keycloak issuer)").default(
      undefined,
      "the default policy's test-only secrets",
    ),
  )
  .addOption(new Option('--stack <file>', 'remote: the stack description to use'))
  .addOption(
    new Option('--write-endpoints <file>', 'write the stack description here (mode 0600)').default(
      undefined,
      '~/.cache/modelgate/dev/stack.json',
    ),
  )
  .addOption(
    new Option('--gpu <mode>', 'use the GPU image of TF Serving')
      .choices(['auto', 'on', 'off'])
      .default('auto'),
  )
  .addOption(
    new Option(
      '--keycloak <which>',
      'emulators provider: the Keycloak emulator, or the real server from its distribution (Java 17+)',
    )
      .choices(['emulator', 'distribution'])
      .default('emulator'),
  )
  .option('--no-tail', 'do not follow the audit log')
  .option('--exit-when-ready', 'stop again once everything is ready and printed (for scripts)', false)
  .action(async (options) => {
    process.exitCode = await runDev(
      {
        provider: options.provider,
        policy: options.policy,
        secrets: options.secrets,
        stack: options.stack,
        writeEndpoints: options.writeEndpoints,
        gpu: options.gpu,
        keycloak: options.keycloak,
        tail: options.tail,
        exitWhenReady: options.exitWhenReady,
      },
      {
        out: (text) => process.stdout.write(text),
        err: (text) => process.stderr.write(text),
        stopRequested: stopSignal,
      },
    );
  });

program
  .command('predict')
  .description('one gRPC Predict through the gateway, with a token minted for the client')
  .addOption(
    new Option('--stack <file>', 'stack description (pnpm dev --write-endpoints)')
      .env('MODELGATE_STACK_FILE')
      .makeOptionMandatory(),
  )
  .requiredOption('-m, --model <name>', 'model to call')
  .addOption(
    new Option('-c, --client <id>', 'client to call as').default(
      undefined,
      'the first client allowed the model',
    ),
  )
  .option('-v, --version <n>', 'model version', positiveInteger)
  .option('-b, --batch <n>', 'batch size', positiveInteger, 1)
  .option('--direct', 'call TF Serving directly, not through the gateway', false)
  .action(async (options) => {
    process.exitCode = await runPredict(options, (text) => process.stdout.write(text));
  });

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof StackStartError) {
    process.stderr.write(`\n${error.message}\n`);
    process.exitCode = EXIT.failed;
  } else if (
    error instanceof PolicyError ||
    error instanceof StackDescriptionError ||
    error instanceof ProviderUnavailableError ||
    error instanceof GpuUnavailableError
  ) {
    process.stderr.write(`${error.message}\n`);
    process.exitCode = EXIT.usage;
  } else {
    process.stderr.write(`modelgate: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = EXIT.failed;
  }
}
