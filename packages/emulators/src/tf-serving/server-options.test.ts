import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SERVER_OPTIONS,
  entrypointArguments,
  type FlagParseResult,
  parseServerFlags,
  unknownArgumentReport,
  usage,
} from './server-options.js';

function run(result: FlagParseResult) {
  if (result.kind !== 'run') throw new Error(`expected a run, got exit ${result.exitCode}: ${result.errors}`);
  return result;
}

describe('tensorflow_model_server flags', () => {
  it('reads the flags the Docker entrypoint passes, as --name=value', () => {
    const { options, unknownArguments } = run(
      parseServerFlags([
        '--port=8500',
        '--rest_api_port=8501',
        '--model_name=m',
        '--model_base_path=/models/m',
      ]),
    );
    expect(options).toMatchObject({
      port: 8500,
      restApiPort: 8501,
      modelName: 'm',
      modelBasePath: '/models/m',
    });
    expect(unknownArguments).toEqual([]);
  });

  it('keeps the real defaults: gRPC 8500, REST off, model name "default", tags serve', () => {
    expect(run(parseServerFlags([])).options).toEqual(DEFAULT_SERVER_OPTIONS);
    expect(DEFAULT_SERVER_OPTIONS).toMatchObject({
      port: 8500,
      restApiPort: 0,
      fileSystemPollWaitSeconds: 1,
      modelConfigFilePollWaitSeconds: 0,
      modelName: 'default',
      savedModelTags: 'serve',
    });
  });

  it('reads --rest_api_port=0 as the default it is (REST off), and the polling flags as acting', () => {
    const parsed = run(
      parseServerFlags([
        '--rest_api_port=0',
        '--file_system_poll_wait_seconds=5',
        '--model_config_file_poll_wait_seconds=60',
      ]),
    );
    expect(parsed.options).toMatchObject({
      restApiPort: 0,
      fileSystemPollWaitSeconds: 5,
      modelConfigFilePollWaitSeconds: 60,
    });
    expect(parsed.flagsWithoutEffect).toEqual([]);
  });

  it.each([
    ['--enable_batching', true],
    ['--enable_batching=true', true],
    ['--enable_batching=TRUE', true],
    ['--enable_batching=1', true],
    ['--enable_batching=false', false],
    ['--enable_batching=False', false],
    ['--enable_batching=0', false],
  ])('reads the boolean %s as %s', (arg, value) => {
    expect(run(parseServerFlags([arg])).options.enableBatching).toBe(value);
  });

  it('lets the last occurrence of a flag win, as each one overwrites the value', () => {
    expect(run(parseServerFlags(['--model_name=a', '--model_name=b'])).options.modelName).toBe('b');
  });

  it('takes an empty string value', () => {
    expect(run(parseServerFlags(['--model_name='])).options.modelName).toBe('');
  });

  it('treats `--port 9000` as two unknown arguments, since flags need `=`', () => {
    const result = run(parseServerFlags(['--port', '9000']));
    expect(result.options.port).toBe(8500);
    expect(result.unknownArguments).toEqual(['--port', '9000']);
  });

  it('reports unknown arguments but runs, printing the first one and the usage as main.cc does', () => {
    const result = run(parseServerFlags(['--no_such_flag=1', '--port=9', 'extra', '-x']));
    expect(result.options.port).toBe(9);
    expect(result.unknownArguments).toEqual(['--no_such_flag=1', 'extra', '-x']);
    expect(unknownArgumentReport(result.unknownArguments)).toBe(
      `unknown argument: --no_such_flag=1\n${usage('tensorflow_model_server')}`,
    );
  });

  it('passes everything after -- through as unknown arguments', () => {
    const result = run(parseServerFlags(['--port=1', '--', '--port=2']));
    expect(result.options.port).toBe(1);
    expect(result.unknownArguments).toEqual(['--', '--port=2']);
  });

  it('is case-sensitive and wants two dashes', () => {
    expect(run(parseServerFlags(['--Port=1', '-port=1'])).unknownArguments).toEqual(['--Port=1', '-port=1']);
  });

  it.each([
    ['--port=abc', "Couldn't interpret value abc for flag port."],
    ['--port=80x', "Couldn't interpret value 80x for flag port."],
    ['--port=2147483648', "Couldn't interpret value 2147483648 for flag port."],
    ['--enable_batching=yes', "Couldn't interpret value yes for flag enable_batching."],
    [
      '--per_process_gpu_memory_fraction=half',
      "Couldn't interpret value half for flag per_process_gpu_memory_fraction.",
    ],
  ])("refuses %s with TensorFlow's message, the usage and exit code 255", (arg, message) => {
    const result = parseServerFlags([arg]);
    expect(result).toEqual({ kind: 'exit', exitCode: 255, stdout: usage(), errors: [message] });
  });

  it('prints the usage and exits 255 when the first unknown argument is --help', () => {
    expect(parseServerFlags(['--port=1', '--help'])).toMatchObject({
      kind: 'exit',
      exitCode: 255,
      errors: [],
    });
    expect(parseServerFlags(['extra', '--help'])).toMatchObject({ kind: 'run' });
  });

  it('accepts real flags the emulator does not act on, and lists them', () => {
    const result = run(parseServerFlags(['--grpc_channel_arguments=a=1', '--enable_model_warmup=false']));
    expect(result.flagsWithoutEffect).toEqual(['grpc_channel_arguments', 'enable_model_warmup']);
    expect(result.unknownArguments).toEqual([]);
  });

  it('accepts any int32 port written as --port=<n>', () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (port) => {
        expect(run(parseServerFlags([`--port=${port}`])).options.port).toBe(port);
      }),
    );
  });

  it('never takes an argument without the -- prefix as a flag', () => {
    fc.assert(
      fc.property(
        fc.string().filter((s) => !s.startsWith('--')),
        (arg) => {
          expect(run(parseServerFlags([arg])).unknownArguments).toEqual([arg]);
        },
      ),
    );
  });

  it('prints every flag with its default and type in the usage', () => {
    const text = usage('tensorflow_model_server');
    expect(text.startsWith('usage: tensorflow_model_server\nFlags:\n')).toBe(true);
    expect(text).toContain(`\t${'--port=8500'.padEnd(33)}\tint32\t`);
    expect(text).toContain(`\t${'--model_name="default"'.padEnd(33)}\tstring\t`);
    expect(text).toContain(`\t${'--enable_batching=false'.padEnd(33)}\tbool\t`);
    expect(text).toContain(`\t${'--per_process_gpu_memory_fraction=0.000000'.padEnd(33)}\tfloat\t`);
    expect(text).toContain(`\t${'--load_retry_interval_micros=60000000'.padEnd(33)}\tint64\t`);
    expect(text.trimEnd().split('\n')).toHaveLength(2 + 48);
  });
});

describe('MODEL_NAME and MODEL_BASE_PATH', () => {
  it('become the flags the Docker entrypoint passes, with its defaults for the one not set', () => {
    expect(entrypointArguments({ MODEL_NAME: 'm', MODEL_BASE_PATH: '/srv' })).toEqual([
      '--model_name=m',
      '--model_base_path=/srv/m',
    ]);
    expect(entrypointArguments({ MODEL_NAME: 'm' })).toEqual([
      '--model_name=m',
      '--model_base_path=/models/m',
    ]);
    expect(entrypointArguments({ MODEL_BASE_PATH: '/srv' })).toEqual([
      '--model_name=model',
      '--model_base_path=/srv/model',
    ]);
  });

  it('are not applied when neither is set', () => {
    expect(entrypointArguments({})).toEqual([]);
  });

  it('are overridden by flags on the command line, which come after them', () => {
    const args = [...entrypointArguments({ MODEL_NAME: 'm' }), '--model_name=other'];
    expect(run(parseServerFlags(args)).options).toMatchObject({
      modelName: 'other',
      modelBasePath: '/models/m',
    });
  });
});
