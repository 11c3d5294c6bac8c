#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { KongConfigError, PRODUCT_VERSIONS } from '@modelgate/policy';
import { runIfEntryPoint } from '../entry-point.js';
import {
  enabledPluginSchemas,
  KongConfigFileError,
  KongPluginsError,
  readKongConfigFile,
} from './kong-config-loader.js';
import { KongEmulator } from './kong-emulator.js';
import { KongEnvError, parseKongEnvironment } from './kong-env.js';
import { checkPluginModules, KongPluginNotInstalledError } from './kong-plugin-modules.js';

// `kong docker-start` as the image runs it, configured only by the image's environment (products.md 1a).
// Exit codes: 0 stopped by a signal, 1 Kong could not start (the config was refused), 2 bad usage or env.

export interface KongCliIo {
  stdout(text: string): void;
  stderr(line: string): void;
  /** Calls `stop` on the first SIGTERM or SIGINT (which never rejects); a second signal exits at once. */
  onStopSignal(stop: () => Promise<void>): void;
}

const HELP = `Usage: kong-emulator [docker-start] [options]

A DB-less Kong ${PRODUCT_VERSIONS.kong} stand-in, configured by the Kong image's environment:
  KONG_DATABASE            must be "off"
  KONG_DECLARATIVE_CONFIG  path of the declarative config (JSON)
  KONG_PROXY_LISTEN        default "0.0.0.0:8000"; add "host:port http2" for plaintext gRPC
  KONG_ADMIN_LISTEN        default "127.0.0.1:8001"
  KONG_STATUS_LISTEN       default "127.0.0.1:8007"
  KONG_PLUGINS             default "bundled"; add modelgate-model-access for the per-model plugin
  KONG_LUA_PACKAGE_PATH    where given, each custom plugin's handler.lua and schema.lua must be on it

Options:
  -h, --help     show this help (default: false)
  -v, --version  print the emulated Kong version (default: false)
`;

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv, io: KongCliIo): Promise<number> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' } },
    });
  } catch (error) {
    io.stderr(`Error: ${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (parsed.values.help) {
    io.stdout(HELP);
    return 0;
  }
  if (parsed.values.version) {
    io.stdout(`Kong ${PRODUCT_VERSIONS.kong} (modelgate emulator)\n`);
    return 0;
  }
  const command = parsed.positionals.filter((word) => word !== 'kong')[0] ?? 'docker-start';
  if (command !== 'docker-start' && command !== 'start') {
    io.stderr(`Error: unknown command '${command}' (known: docker-start, start)`);
    return 2;
  }
  let emulator: KongEmulator;
  try {
    const kongEnv = parseKongEnvironment(env);
    enabledPluginSchemas(kongEnv.plugins); // an unknown plugin is a usage error, before the file is read
    // as Kong, a custom plugin must be on the Lua path where one is given (the image's plugin folder)
    if (env.KONG_LUA_PACKAGE_PATH) checkPluginModules(kongEnv.plugins, env.KONG_LUA_PACKAGE_PATH);
    const config = await readKongConfigFile(kongEnv.declarativeConfig);
    emulator = await KongEmulator.start({
      config,
      plugins: kongEnv.plugins,
      proxyListen: kongEnv.proxyListen,
      adminListen: kongEnv.adminListen,
      statusListen: kongEnv.statusListen,
    });
  } catch (error) {
    if (error instanceof KongEnvError || error instanceof KongPluginsError) {
      io.stderr(`Error: ${error.message}`);
      return 2;
    }
    if (error instanceof KongConfigError) {
      io.stderr(`Error: ${error.startupMessage(env.KONG_DECLARATIVE_CONFIG ?? '')}`);
      return 1;
    }
    if (error instanceof KongPluginNotInstalledError) {
      io.stderr(`Error: ${error.message}`);
      return 1;
    }
    if (error instanceof KongConfigFileError) {
      io.stderr(`Error: ${error.message}`);
      return 1;
    }
    io.stderr(`Error: ${(error as Error).message}`);
    return 1;
  }
  for (const listener of emulator.listeners()) {
    io.stderr(
      JSON.stringify({
        level: 'info',
        msg: 'listening',
        role: listener.role,
        host: listener.host,
        port: listener.port,
        http2: listener.http2,
      }),
    );
  }
  return new Promise<number>((resolve) => {
    io.onStopSignal(() =>
      emulator.stop().then(
        () => resolve(0),
        (error: unknown) => {
          io.stderr(`Error: stopping failed: ${error instanceof Error ? error.message : String(error)}`);
          resolve(1);
        },
      ),
    );
  });
}

function processIo(): KongCliIo {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (line) => process.stderr.write(`${line}\n`),
    onStopSignal: (stop) => {
      let stopping = false;
      const onSignal = (signal: NodeJS.Signals) => {
        // A second signal while stopping (a log line stuck on its file, a connection) ends the process now: the
        // signal again with its default action, since process.exit would wait for a blocked file operation.
        if (stopping) {
          process.removeAllListeners(signal);
          process.kill(process.pid, signal);
          return;
        }
        stopping = true;
        process.stderr.write(`${JSON.stringify({ level: 'info', msg: `${signal}, stopping` })}\n`);
        void stop();
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
    },
  };
}

runIfEntryPoint(import.meta.url, () => main(process.argv.slice(2), process.env, processIo()), 1);
