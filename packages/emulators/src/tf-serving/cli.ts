#!/usr/bin/env node
import { PRODUCT_VERSIONS } from '@modelgate/policy';
import { runIfEntryPoint } from '../entry-point.js';
import { loadTfjs } from './backend/tfjs-backend.js';
import { createModelRunner } from './model-runner-factory.js';
import { ManagerStoppedError } from './servable-manager.js';
import { ServerLog } from './server-log.js';
import { entrypointArguments, parseServerFlags, unknownArgumentReport } from './server-options.js';
import { TfServingEmulator } from './tf-serving-emulator.js';
import { asTfServingError } from './tf-serving-error.js';

/** Where the CLI writes: stdout for what main.cc prints with std::cout, stderr for TensorFlow's log lines. */
export interface CliIo {
  stdout(text: string): void;
  stderr(line: string): void;
  /** Resolves when SIGTERM or SIGINT arrives; a second signal exits at once. */
  onStopSignal(stop: () => Promise<void>): void;
}

const FLAGS_SOURCE = 'external/org_tensorflow/third_party/xla/xla/tsl/util/command_line_flags.cc:66';

/**
 * tensorflow_model_server: the real command line (flags, MODEL_NAME/MODEL_BASE_PATH as the Docker
 * entrypoint applies them), the real start-up and failure output, and a graceful stop on SIGTERM/SIGINT.
 * Returns the exit code: 0 after a stop or --version, 255 (main.cc's -1) when the flags or the start fail.
 */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  const log = new ServerLog(io.stderr);
  const parsed = parseServerFlags([...entrypointArguments(env), ...argv]);
  if (parsed.kind === 'exit') {
    for (const error of parsed.errors) log.error(FLAGS_SOURCE, error);
    io.stdout(parsed.stdout);
    return parsed.exitCode;
  }
  const { options } = parsed;
  if (options.version) {
    io.stdout(
      `TensorFlow ModelServer: ${PRODUCT_VERSIONS.tensorflowServing}-modelgate-emulator\nTensorFlow Library: tfjs ${PRODUCT_VERSIONS.tfjs}\n`,
    );
    return 0;
  }
  if (parsed.unknownArguments.length > 0) io.stdout(unknownArgumentReport(parsed.unknownArguments));
  if (parsed.flagsWithoutEffect.length > 0) {
    io.stderr(`modelgate TF Serving emulator: no effect here: --${parsed.flagsWithoutEffect.join(', --')}`);
  }
  const runner = await createModelRunner({ loadTfjs, log: io.stderr });
  io.stderr(`modelgate TF Serving emulator: running models on ${runner.description}`);
  const emulator = new TfServingEmulator({ ...options, runner, log: io.stderr });
  // The server runs until a signal stops it, models or not: while start-up waits for a base path that is not
  // there yet, only unref'd poll timers run, and Node would otherwise exit on its own.
  const keepAlive = setInterval(() => {}, 2 ** 30);
  const stopped = new Promise<void>((resolve) => {
    io.onStopSignal(async () => {
      await emulator.stop();
      clearInterval(keepAlive);
      resolve();
    });
  });
  try {
    await emulator.start();
  } catch (error) {
    // A signal while start-up waits for models (a base path not there yet) is a stop, not a failure.
    if (error instanceof ManagerStoppedError) {
      await stopped;
      return 0;
    }
    clearInterval(keepAlive);
    io.stdout(`Failed to start server. Error: ${asTfServingError(error).toStatusString()}\n`);
    return 255;
  }
  await stopped;
  return 0;
}

function processIo(): CliIo {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (line) => process.stderr.write(`${line}\n`),
    onStopSignal: (stop) => {
      let stopping = false;
      const onSignal = (signal: NodeJS.Signals) => {
        if (stopping) process.exit(signal === 'SIGINT' ? 130 : 143);
        stopping = true;
        process.stderr.write(`modelgate TF Serving emulator: ${signal}, stopping\n`);
        stop().catch((error: unknown) => {
          process.stderr.write(`modelgate TF Serving emulator: stop failed: ${String(error)}\n`);
          process.exit(1);
        });
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
    },
  };
}

runIfEntryPoint(import.meta.url, () => main(process.argv.slice(2), process.env, processIo()), 1);
