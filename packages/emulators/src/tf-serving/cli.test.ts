import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { usage } from './server-options.js';
import { type ModelRepository, modelRepository } from './testing/model-repository.js';

// tensorflow_model_server started as a child process, with the real flags, as the stack and a container run it.

const CLI = fileURLToPath(new URL('./cli.ts', import.meta.url));
const PACKAGE_DIR = fileURLToPath(new URL('../..', import.meta.url));
const READY_TIMEOUT_MS = 30_000;

interface RunningCli {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match in stderr. */
  waitFor(pattern: RegExp): Promise<RegExpMatchArray>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running: RunningCli[] = [];

/** The low end of the kernel's ephemeral range: bind(0) and outgoing connections take ports from there up. */
const EPHEMERAL_LOW = (() => {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  } catch {
    return Number.NaN;
  }
})();
/** Where ports are picked: below the ephemeral range, above the well-known and most registered ones. */
const PICK_FROM = 10_000;
const PICK_TRIES = 200;

/** Binds `port` on every interface (as the CLI binds it), or 0 for one the OS picks; resolves the port or 0. */
function bindable(port: number): Promise<number> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(0));
    server.listen(port, '0.0.0.0', () => {
      const bound = (server.address() as { port: number }).port;
      server.close(() => resolve(bound));
    });
  });
}

/**
 * Ports free right now (the real flags have no "pick one": --port=0 is refused, --rest_api_port=0 is off),
 * below the ephemeral range where there is room: the CLI binds them a second later, and a port bind(0) gave
 * could be handed to another process's connection or listener in between; one below that range is only ever
 * taken on purpose. Where the range starts too low (or is unknown), the OS picks.
 */
async function freePorts(count: number): Promise<number[]> {
  const room = Number.isFinite(EPHEMERAL_LOW) ? EPHEMERAL_LOW - PICK_FROM : 0;
  const ports: number[] = [];
  for (let tries = 0; ports.length < count; tries++) {
    if (tries === PICK_TRIES) throw new Error(`no ${count} free ports after ${PICK_TRIES} tries`);
    const wanted = room >= 1_000 ? PICK_FROM + Math.floor(Math.random() * room) : 0;
    const port = ports.includes(wanted) ? 0 : await bindable(wanted);
    if (port !== 0 && !ports.includes(port)) ports.push(port);
  }
  return ports;
}

/** `--port=<free> --rest_api_port=<free>`, or the gRPC one alone. */
async function portFlags(rest = true): Promise<string[]> {
  const [grpc, http] = await freePorts(2);
  return rest ? [`--port=${grpc}`, `--rest_api_port=${http}`] : [`--port=${grpc}`];
}

function startCli(args: string[], env: Record<string, string> = {}, wrapper: string[] = []): RunningCli {
  const { MODEL_NAME: _n, MODEL_BASE_PATH: _p, ...parentEnv } = process.env;
  const [command, ...prefix] = [...wrapper, process.execPath];
  const child = spawn(command as string, [...prefix, '--import', 'tsx', CLI, ...args], {
    cwd: PACKAGE_DIR,
    env: { ...parentEnv, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const waiters: (() => void)[] = [];
  child.stdout?.on('data', (chunk) => {
    out += String(chunk);
  });
  child.stderr?.on('data', (chunk) => {
    err += String(chunk);
    for (const wake of waiters.splice(0)) wake();
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      resolve({ code, signal });
      for (const wake of waiters.splice(0)) wake();
    });
  });
  const cli: RunningCli = {
    child,
    stdout: () => out,
    stderr: () => err,
    exit,
    waitFor: (pattern) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no ${pattern} in stderr:\n${err}\nstdout:\n${out}`)),
          READY_TIMEOUT_MS,
        );
        const check = () => {
          const match = err.match(pattern);
          if (match) {
            clearTimeout(timer);
            resolve(match);
          } else if (child.exitCode !== null) {
            clearTimeout(timer);
            reject(new Error(`exited ${child.exitCode} before ${pattern}:\n${err}\nstdout:\n${out}`));
          } else waiters.push(check);
        };
        check();
      }),
  };
  running.push(cli);
  return cli;
}

const GRPC_READY = /Running gRPC ModelServer at 0\.0\.0\.0:(\d+) \.\.\./;
const REST_READY = /Exporting HTTP\/REST API at:localhost:(\d+) \.\.\./;

let repo: ModelRepository;
beforeAll(async () => {
  repo = await modelRepository([
    { name: 'half_plus_two', graph: 'half_plus_two', version: 1 },
    { name: 'classifier', graph: 'classifier', version: 1 },
    { name: 'classifier', graph: 'classifier', version: 2 },
  ]);
});
afterEach(async () => {
  for (const cli of running.splice(0)) {
    if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
    await cli.exit;
  }
});
afterAll(() => repo.remove());

async function status(restPort: string, model: string): Promise<number> {
  return (await fetch(`http://127.0.0.1:${restPort}/v1/models/${model}`)).status;
}

describe('tensorflow_model_server (the emulator CLI)', () => {
  // The backend is chosen at start and printed: TensorFlow's own kernels through tfjs-node where its setup is
  // cached (demanded here, as CI demands it), the wasm backend where forced or not set up.
  const BACKENDS = [
    [
      'tensorflow',
      /modelgate TF Serving emulator: running models on tfjs-node 4\.22\.0 \(TensorFlow C library\)/,
    ],
    ['wasm', /modelgate TF Serving emulator: running models on tfjs 4\.22\.0 wasm/],
  ] as const;
  it.each([
    ['SIGTERM', ...BACKENDS[0]],
    ['SIGINT', ...BACKENDS[1]],
  ] as const)(
    'starts with the real flags, prints the ready lines with the picked ports, and stops on %s (%s backend)',
    async (signal, backend, backendLine) => {
      const cli = startCli(
        [
          ...(await portFlags()),
          '--model_name=half_plus_two',
          `--model_base_path=${repo.basePath('half_plus_two')}`,
        ],
        { MODELGATE_TFJS_BACKEND: backend },
      );
      const [, grpcPort] = await cli.waitFor(GRPC_READY);
      const [, restPort] = await cli.waitFor(REST_READY);
      expect(Number(grpcPort)).toBeGreaterThan(0);
      expect(cli.stderr()).toMatch(backendLine);
      expect(
        cli.stderr().indexOf('Successfully loaded servable version {name: half_plus_two version: 1}'),
      ).toBeLessThan(cli.stderr().indexOf('Running gRPC ModelServer'));
      expect(await status(restPort as string, 'half_plus_two')).toBe(200);
      cli.child.kill(signal);
      expect(await cli.exit).toEqual({ code: 0, signal: null });
      expect(cli.stderr()).toContain(`${signal}, stopping`);
    },
  );

  it('serves MODEL_NAME from MODEL_BASE_PATH, as the Docker entrypoint does', async () => {
    const cli = startCli(await portFlags(), {
      MODEL_NAME: 'classifier',
      MODEL_BASE_PATH: repo.root,
    });
    const [, restPort] = await cli.waitFor(REST_READY);
    expect(cli.stderr()).toContain(
      `Building single TensorFlow model file config:  model_name: classifier model_base_path: ${repo.basePath('classifier')}`,
    );
    expect(await status(restPort as string, 'classifier')).toBe(200);
  });

  it('reports an unknown flag with the usage, as main.cc does, and still starts', async () => {
    const cli = startCli([
      ...(await portFlags(false)),
      '--no_such_flag=1',
      `--model_base_path=${repo.basePath('half_plus_two')}`,
    ]);
    await cli.waitFor(GRPC_READY);
    expect(cli.stdout()).toBe(`unknown argument: --no_such_flag=1\n${usage()}`);
  });

  it("refuses a bad flag value with TensorFlow's message and the usage, exit code 255", async () => {
    const cli = startCli(['--port=abc']);
    expect(await cli.exit).toEqual({ code: 255, signal: null });
    expect(cli.stdout()).toBe(usage());
    expect(cli.stderr()).toMatch(
      /: E \S+command_line_flags\.cc:\d+\] Couldn't interpret value abc for flag port\.\n/,
    );
  });

  it('refuses --port=0 as main.cc does: "Failed to start server. Error: ..." and exit code 255', async () => {
    const cli = startCli(['--port=0', `--model_base_path=${repo.basePath('half_plus_two')}`]);
    expect(await cli.exit).toEqual({ code: 255, signal: null });
    expect(cli.stdout()).toBe(
      'Failed to start server. Error: INVALID_ARGUMENT: At least one of server_options.grpc_port or server_options.grpc_socket_path must be set.\n',
    );
  });

  it('waits for a model folder that is missing, logging each poll, and stops cleanly on SIGTERM', async () => {
    const missing = join(repo.root, 'missing');
    const cli = startCli([...(await portFlags(false)), '--model_name=m', `--model_base_path=${missing}`]);
    await cli.waitFor(
      new RegExp(
        `E \\S+file_system_storage_path_source\\.cc:\\d+\\] FileSystemStoragePathSource encountered a filesystem access error: Could not find base path ${missing} for servable m`,
      ),
    );
    expect(cli.stderr()).not.toContain('Running gRPC ModelServer');
    cli.child.kill('SIGTERM');
    expect(await cli.exit).toEqual({ code: 0, signal: null });
    expect(cli.stdout()).toBe('');
  });

  it('prints its versions for --version', async () => {
    const cli = startCli(['--version']);
    expect(await cli.exit).toEqual({ code: 0, signal: null });
    expect(cli.stdout()).toMatch(
      /^TensorFlow ModelServer: 2\.\d+\.\d+-modelgate-emulator\nTensorFlow Library: tfjs 4\.22\.0\n$/,
    );
  });

  it('reads --model_config_file, --monitoring_config_file and --batching_parameters_file', async () => {
    const modelConfig = join(repo.root, 'models.config');
    await writeFile(
      modelConfig,
      `model_config_list {
        config { name: 'classifier' base_path: '${repo.basePath('classifier')}' model_platform: 'tensorflow'
                 model_version_policy { all {} } }
        config { name: 'half_plus_two' base_path: '${repo.basePath('half_plus_two')}' model_platform: 'tensorflow' }
      }`,
    );
    const monitoring = join(repo.root, 'monitoring.config');
    await writeFile(monitoring, 'prometheus_config { enable: true path: "/metrics" }');
    const batching = join(repo.root, 'batching.config');
    await writeFile(
      batching,
      'max_batch_size { value: 8 } batch_timeout_micros { value: 1000 } num_batch_threads { value: 2 }',
    );
    const cli = startCli([
      ...(await portFlags()),
      `--model_config_file=${modelConfig}`,
      `--monitoring_config_file=${monitoring}`,
      '--enable_batching',
      `--batching_parameters_file=${batching}`,
    ]);
    const [, restPort] = await cli.waitFor(REST_READY);
    const versions = (await (await fetch(`http://127.0.0.1:${restPort}/v1/models/classifier`)).json()) as {
      model_version_status: { version: string }[];
    };
    expect(versions.model_version_status.map((s: { version: string }) => s.version)).toEqual(['2', '1']);
    const predict = await fetch(`http://127.0.0.1:${restPort}/v1/models/half_plus_two:predict`, {
      method: 'POST',
      body: '{"instances": [1, 2, 3]}',
    });
    expect(await predict.text()).toBe('{\n    "predictions": [2.5, 3.0, 3.5\n    ]\n}');
    const metrics = await (await fetch(`http://127.0.0.1:${restPort}/metrics`)).text();
    expect(metrics).toContain(':tensorflow:serving:request_count{model_name="half_plus_two",status="OK"} 1');
  });
});

/** Whether this machine lets us start a process as PID 1 of a new PID namespace (root, util-linux unshare). */
const CAN_BE_PID_1 = spawnSync('unshare', ['--pid', '--fork', 'true'], { stdio: 'ignore' }).status === 0;

describe('tensorflow_model_server as PID 1, as in a container without an init', () => {
  // PID 1 gets no default signal handling: without its own SIGTERM handler `docker stop` would wait and kill.
  it.skipIf(!CAN_BE_PID_1)('stops gracefully on SIGTERM', async () => {
    const cli = startCli(
      [
        ...(await portFlags(false)),
        '--model_name=half_plus_two',
        `--model_base_path=${repo.basePath('half_plus_two')}`,
      ],
      {},
      ['unshare', '--pid', '--fork', '--kill-child'],
    );
    await cli.waitFor(GRPC_READY);
    const unsharePid = cli.child.pid as number;
    const children = await readFile(`/proc/${unsharePid}/task/${unsharePid}/children`, 'utf8');
    const pid1 = Number(children.trim().split(/\s+/)[0]);
    expect((await readFile(`/proc/${pid1}/status`, 'utf8')).match(/^NSpid:.*\s1$/m)).not.toBeNull();
    process.kill(pid1, 'SIGTERM');
    expect(await cli.exit).toEqual({ code: 0, signal: null });
    expect(cli.stderr()).toContain('SIGTERM, stopping');
  });
});
