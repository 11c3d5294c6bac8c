import { availableParallelism } from 'node:os';
import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';

/**
 * tensorflow_model_server's command line, read the way TensorFlow's flag parser reads it
 * (xla/tsl/util/command_line_flags.cc): every flag is `--name=value`, booleans may also be a bare `--name`
 * or `--name=true|false|1|0`; `--name value` is not a flag but two unknown arguments; a bad value fails the
 * parse; unknown arguments are reported after parsing but do not stop the server (main.cc prints
 * `unknown argument: <first>` and the usage, then starts); a first unknown argument of `--help` prints the
 * usage and exits -1.
 */

type FlagType = 'int32' | 'int64' | 'float' | 'bool' | 'string';

interface FlagSpec {
  type: FlagType;
  /** Default as the real server's usage prints it. */
  display: string | number | boolean;
  help: string;
  /** The option this flag sets; absent for real flags the emulator accepts but that change nothing here. */
  option?: keyof ServerOptions;
}

const CPUS = availableParallelism();

/** Every flag of tensorflow_model_server 2.x (model_servers/main.cc), in its order, with its default. */
const FLAGS: ReadonlyArray<readonly [name: string, spec: FlagSpec]> = [
  [
    'port',
    {
      type: 'int32',
      display: 8500,
      option: 'port',
      help: 'gRPC port; 0 is refused (no --grpc_socket_path here). From code: pickFreeGrpcPort.',
    },
  ],
  ['grpc_socket_path', { type: 'string', display: '', help: 'UNIX socket for gRPC (emulator: ignored).' }],
  [
    'rest_api_port',
    {
      type: 'int32',
      display: 0,
      option: 'restApiPort',
      help: 'REST port; 0 (the default) is REST off. From code: pickFreeRestPort.',
    },
  ],
  ['rest_api_num_threads', { type: 'int32', display: 4 * CPUS, help: 'REST threads (emulator: ignored).' }],
  [
    'rest_api_timeout_in_ms',
    {
      type: 'int32',
      display: 30000,
      option: 'restApiTimeoutInMs',
      help: 'Run timeout of REST calls (504 DEADLINE_EXCEEDED past it); <= 0: none.',
    },
  ],
  [
    'rest_api_enable_cors_support',
    {
      type: 'bool',
      display: false,
      option: 'restApiEnableCorsSupport',
      help: 'CORS headers on REST answers.',
    },
  ],
  [
    'enable_batching',
    { type: 'bool', display: false, option: 'enableBatching', help: 'Server-side batching.' },
  ],
  [
    'allow_version_labels_for_unavailable_models',
    {
      type: 'bool',
      display: false,
      option: 'allowVersionLabelsForUnavailableModels',
      help: 'Allow version_labels at start-up, before the versions are loaded.',
    },
  ],
  [
    'batching_parameters_file',
    {
      type: 'string',
      display: '',
      option: 'batchingParametersFile',
      help: 'Text BatchingParameters (needs --enable_batching).',
    },
  ],
  [
    'enable_per_model_batching_parameters',
    { type: 'bool', display: false, help: 'batching_params.pbtxt per SavedModel (emulator: ignored).' },
  ],
  [
    'model_config_file',
    {
      type: 'string',
      display: '',
      option: 'modelConfigFile',
      help: 'Text ModelServerConfig; overrides --model_name and --model_base_path.',
    },
  ],
  [
    'model_config_file_poll_wait_seconds',
    {
      type: 'int32',
      display: 0,
      option: 'modelConfigFilePollWaitSeconds',
      help: 'Seconds between re-reads of --model_config_file; 0 reads it once.',
    },
  ],
  [
    'model_name',
    { type: 'string', display: 'default', option: 'modelName', help: 'Name of the single model.' },
  ],
  [
    'model_base_path',
    {
      type: 'string',
      display: '',
      option: 'modelBasePath',
      help: 'Folder holding numbered version folders.',
    },
  ],
  ['num_load_threads', { type: 'int32', display: 0, help: 'Load threads (emulator: ignored).' }],
  ['num_unload_threads', { type: 'int32', display: 0, help: 'Unload threads (emulator: ignored).' }],
  ['max_num_load_retries', { type: 'int32', display: 5, help: 'Load retries (emulator: no retries).' }],
  [
    'load_retry_interval_micros',
    { type: 'int64', display: 60_000_000, help: 'Between load retries (emulator: ignored).' },
  ],
  [
    'file_system_poll_wait_seconds',
    {
      type: 'int32',
      display: 1,
      option: 'fileSystemPollWaitSeconds',
      help: 'Seconds between scans of the version folders; 0 scans once, < 0 never.',
    },
  ],
  ['flush_filesystem_caches', { type: 'bool', display: true, help: 'Emulator: ignored.' }],
  ['tensorflow_session_parallelism', { type: 'int64', display: 0, help: 'Emulator: ignored.' }],
  ['tensorflow_session_config_file', { type: 'string', display: '', help: 'Emulator: ignored.' }],
  ['tensorflow_intra_op_parallelism', { type: 'int64', display: 0, help: 'Emulator: ignored.' }],
  ['tensorflow_inter_op_parallelism', { type: 'int64', display: 0, help: 'Emulator: ignored.' }],
  ['use_alts_credentials', { type: 'bool', display: false, help: 'Emulator: ignored (plaintext only).' }],
  ['ssl_config_file', { type: 'string', display: '', help: 'Emulator: ignored (plaintext only).' }],
  ['platform_config_file', { type: 'string', display: '', help: 'Emulator: ignored.' }],
  ['per_process_gpu_memory_fraction', { type: 'float', display: 0, help: 'Emulator: ignored.' }],
  [
    'saved_model_tags',
    {
      type: 'string',
      display: 'serve',
      option: 'savedModelTags',
      help: 'Comma-separated MetaGraphDef tags.',
    },
  ],
  ['grpc_channel_arguments', { type: 'string', display: '', help: 'Emulator: ignored.' }],
  ['grpc_max_threads', { type: 'int32', display: 4 * CPUS, help: 'Emulator: ignored.' }],
  ['enable_model_warmup', { type: 'bool', display: true, help: 'Emulator: ignored (no warmup records).' }],
  ['num_request_iterations_for_warmup', { type: 'int32', display: 0, help: 'Emulator: ignored.' }],
  ['version', { type: 'bool', display: false, option: 'version', help: 'Print the versions and exit.' }],
  [
    'monitoring_config_file',
    {
      type: 'string',
      display: '',
      option: 'monitoringConfigFile',
      help: 'Text MonitoringConfig (Prometheus on the REST port).',
    },
  ],
  ['remove_unused_fields_from_bundle_metagraph', { type: 'bool', display: true, help: 'Emulator: ignored.' }],
  ['prefer_tflite_model', { type: 'bool', display: false, help: 'Emulator: ignored.' }],
  ['num_tflite_pools', { type: 'int32', display: CPUS, help: 'Emulator: ignored.' }],
  ['num_tflite_interpreters_per_pool', { type: 'int32', display: 1, help: 'Emulator: ignored.' }],
  [
    'enable_signature_method_name_check',
    {
      type: 'bool',
      display: false,
      option: 'enableSignatureMethodNameCheck',
      help: 'Refuse Predict on signatures whose method is not predict/classify/regress.',
    },
  ],
  ['xla_cpu_compilation_enabled', { type: 'bool', display: false, help: 'Emulator: ignored.' }],
  ['xla_gpu_compilation_enabled', { type: 'bool', display: false, help: 'Emulator: ignored.' }],
  ['enable_profiler', { type: 'bool', display: true, help: 'Emulator: ignored (no profiler service).' }],
  ['thread_pool_factory_config_file', { type: 'string', display: '', help: 'Emulator: ignored.' }],
  ['mixed_precision', { type: 'string', display: '', help: 'Emulator: ignored.' }],
  ['skip_initialize_tpu', { type: 'bool', display: false, help: 'Emulator: ignored.' }],
  ['enable_grpc_healthcheck_service', { type: 'bool', display: false, help: 'Emulator: ignored.' }],
  [
    'enable_serialization_as_tensor_content',
    {
      type: 'bool',
      display: false,
      option: 'enableSerializationAsTensorContent',
      help: 'Predict outputs in tensor_content instead of the *_val fields.',
    },
  ],
];

const FLAG_SPECS: ReadonlyMap<string, FlagSpec> = new Map(FLAGS);

/** The settings the emulator acts on, named after their flags. */
export interface ServerOptions {
  /** gRPC port; 0 is refused, as the real server refuses it without --grpc_socket_path. */
  port: number;
  /** REST port; 0 is REST off (the real default). */
  restApiPort: number;
  restApiEnableCorsSupport: boolean;
  /** --rest_api_timeout_in_ms: the run timeout of REST calls; <= 0 none. */
  restApiTimeoutInMs: number;
  enableBatching: boolean;
  batchingParametersFile: string;
  allowVersionLabelsForUnavailableModels: boolean;
  modelConfigFile: string;
  /** --model_config_file_poll_wait_seconds: > 0 re-reads the config file at that period. */
  modelConfigFilePollWaitSeconds: number;
  /** --file_system_poll_wait_seconds: > 0 rescans the version folders at that period, 0 once, < 0 never. */
  fileSystemPollWaitSeconds: number;
  modelName: string;
  modelBasePath: string;
  monitoringConfigFile: string;
  savedModelTags: string;
  enableSignatureMethodNameCheck: boolean;
  enableSerializationAsTensorContent: boolean;
  /** --version: print the versions and exit. */
  version: boolean;
}

/** The real server's defaults, in one place. */
export const DEFAULT_SERVER_OPTIONS: Readonly<ServerOptions> = Object.freeze({
  port: 8500,
  restApiPort: 0,
  restApiEnableCorsSupport: false,
  restApiTimeoutInMs: 30_000,
  enableBatching: false,
  batchingParametersFile: '',
  allowVersionLabelsForUnavailableModels: false,
  modelConfigFile: '',
  modelConfigFilePollWaitSeconds: 0,
  fileSystemPollWaitSeconds: 1,
  modelName: 'default',
  modelBasePath: '',
  monitoringConfigFile: '',
  savedModelTags: 'serve',
  enableSignatureMethodNameCheck: false,
  enableSerializationAsTensorContent: false,
  version: false,
});

/** What reading the command line came to. */
export type FlagParseResult =
  | {
      kind: 'run';
      options: ServerOptions;
      /** Arguments that are not flags; the real server reports the first (see `unknownArgumentReport`). */
      unknownArguments: string[];
      /** Real flags given that change nothing in the emulator. */
      flagsWithoutEffect: string[];
    }
  | {
      kind: 'exit';
      /** 255: the real server's `return -1`. */
      exitCode: number;
      /** What the real server prints to stdout (the usage). */
      stdout: string;
      /** TensorFlow's LOG(ERROR) messages, without their prefix. */
      errors: string[];
    };

const PARSE_CONFIG: ParseArgsOptionsConfig = Object.fromEntries(
  FLAGS.map(([name, spec]) => [name, { type: spec.type === 'bool' ? 'boolean' : 'string' }]),
);

const INT_PATTERN = /^\s*[+-]?\d+$/;
const FLOAT_PATTERN = /^\s*[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|inf(inity)?|nan)$/i;
const INT32_RANGE = [-(2n ** 31n), 2n ** 31n - 1n] as const;
const INT64_RANGE = [-(2n ** 63n), 2n ** 63n - 1n] as const;

type FlagValue = number | boolean | string;

/** A flag's value as TensorFlow reads it (sscanf `%d%c`, `%f%c`, true/false/1/0); undefined when refused. */
function interpret(type: FlagType, text: string): FlagValue | undefined {
  switch (type) {
    case 'string':
      return text;
    case 'bool': {
      const lower = text.toLowerCase();
      if (lower === 'true' || text === '1') return true;
      if (lower === 'false' || text === '0') return false;
      return undefined;
    }
    case 'float':
      return FLOAT_PATTERN.test(text)
        ? Math.fround(Number.parseFloat(text.trim().replace(/^\+/, '')))
        : undefined;
    default: {
      if (!INT_PATTERN.test(text)) return undefined;
      const value = BigInt(text.trim());
      const [min, max] = type === 'int32' ? INT32_RANGE : INT64_RANGE;
      return value < min || value > max ? undefined : Number(value);
    }
  }
}

interface ParsedArgument {
  flag?: { name: string; spec: FlagSpec; value: FlagValue };
  badValue?: string;
}

/** One argument through util.parseArgs (alone, so that no flag takes the next argument as its value). */
function parseArgument(arg: string): ParsedArgument {
  const { tokens } = parseArgs({
    args: [arg],
    options: PARSE_CONFIG,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const [token] = tokens;
  // A grouped short option (-abc) yields several tokens; TensorFlow sees one unknown argument.
  if (tokens.length !== 1 || token?.kind !== 'option' || !token.rawName.startsWith('--')) return {};
  const spec = FLAG_SPECS.get(token.name);
  if (!spec) return {};
  if (!token.inlineValue) {
    // `--flag` alone is a flag only for booleans; `--port 8500` is two unknown arguments.
    return spec.type === 'bool' ? { flag: { name: token.name, spec, value: true } } : {};
  }
  const text = token.value ?? '';
  const value = interpret(spec.type, text);
  if (value === undefined) return { badValue: `Couldn't interpret value ${text} for flag ${token.name}.` };
  return { flag: { name: token.name, spec, value } };
}

/**
 * The flags the Docker image's entrypoint puts before the user's arguments, from MODEL_NAME and MODEL_BASE_PATH
 * (`--model_name=${MODEL_NAME} --model_base_path=${MODEL_BASE_PATH}/${MODEL_NAME}`, with the image's defaults
 * `model` and `/models`). Only applied when one of them is set, so a bare run keeps the binary's defaults.
 */
export function entrypointArguments(env: Readonly<Record<string, string | undefined>>): string[] {
  if (env.MODEL_NAME === undefined && env.MODEL_BASE_PATH === undefined) return [];
  const name = env.MODEL_NAME ?? 'model';
  const basePath = env.MODEL_BASE_PATH ?? '/models';
  return [`--model_name=${name}`, `--model_base_path=${basePath}/${name}`];
}

/** Reads tensorflow_model_server's arguments (without the program name). */
export function parseServerFlags(
  argv: readonly string[],
  argv0 = 'tensorflow_model_server',
): FlagParseResult {
  const options: Record<string, FlagValue | undefined> = { ...DEFAULT_SERVER_OPTIONS };
  const unknownArguments: string[] = [];
  const flagsWithoutEffect = new Set<string>();
  const errors: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      unknownArguments.push(...argv.slice(i));
      break;
    }
    const parsed = parseArgument(arg);
    if (parsed.badValue !== undefined) {
      errors.push(parsed.badValue);
      continue;
    }
    if (!parsed.flag) {
      unknownArguments.push(arg);
      continue;
    }
    const { name, spec, value } = parsed.flag;
    if (spec.option === undefined) flagsWithoutEffect.add(name);
    else options[spec.option] = value;
  }
  if (errors.length > 0 || unknownArguments[0] === '--help') {
    return { kind: 'exit', exitCode: 255, stdout: usage(argv0), errors };
  }
  return {
    kind: 'run',
    options: options as unknown as ServerOptions,
    unknownArguments,
    flagsWithoutEffect: [...flagsWithoutEffect],
  };
}

/** What main.cc prints when arguments are left over: the first one, then the usage. */
export function unknownArgumentReport(
  unknownArguments: readonly string[],
  argv0 = 'tensorflow_model_server',
): string {
  return `unknown argument: ${unknownArguments[0]}\n${usage(argv0)}`;
}

function displayDefault(spec: FlagSpec): string {
  switch (spec.type) {
    case 'string':
      return `"${spec.display}"`;
    case 'float':
      return Number(spec.display).toFixed(6);
    default:
      return String(spec.display);
  }
}

/** The usage text in tensorflow::Flags::Usage's layout: every flag with its default and type. */
export function usage(argv0 = 'tensorflow_model_server'): string {
  const lines = FLAGS.map(([name, spec]) => {
    const flag = `--${name}=${displayDefault(spec)}`;
    return `\t${flag.padEnd(33)}\t${spec.type}\t${spec.help}\n`;
  });
  return `usage: ${argv0}\nFlags:\n${lines.join('')}`;
}
