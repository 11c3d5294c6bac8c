#!/usr/bin/env node
import { readFile } from 'node:fs/promises';
import { StackDescriptionError, StackStartError, TokenRequestError } from '@modelgate/stack';
import { Command, InvalidArgumentError, Option } from 'commander';
import {
  durationMs,
  integerList,
  numberList,
  positiveInteger,
  positiveNumber,
  rampSpec,
  share,
  sloSpec,
  stepStages,
} from './command/flag-values.js';
import { type K6Flags, k6Command } from './command/k6-command.js';
import {
  type AuthOverheadFlags,
  authOverheadCommand,
  type CommonFlags,
  EXIT,
  type LoadFlags,
  type Output,
  type ThroughputFlags,
  throughputCommand,
} from './command/run-scenario.js';
import { parseLoadReport, ReportError } from './report/load-report.js';
import { MergeError, mergeReports } from './report/merge-reports.js';
import { checkThresholds, parseThreshold, type Threshold, ThresholdError } from './report/thresholds.js';
import { writeReports } from './report/write-reports.js';
import { DEFAULT_LOAD_SETTINGS } from './scenarios/load-settings.js';
import { ScheduleError } from './schedule/arrival-schedule.js';
import { TargetError } from './target/load-target.js';

// `modelgate-loadgen auth-overhead | throughput`. Exit codes: 0 done and every threshold held; 1 the run
// failed (the stack, the issuer, a transport); 2 bad flags, target or stack file; 3 a --fail-if threshold failed.

// pnpm runs scripts in the package folder; relative paths mean where the user typed the command.
const userCwd = process.env.INIT_CWD ?? process.cwd();
if (userCwd !== process.cwd()) process.chdir(userCwd);

const output: Output = process.stderr.isTTY
  ? {
      // readable lines on a terminal; the live line is rewritten in place and cleared by the next line
      log: (text) => process.stderr.write(`\r\x1b[2K${text}\n`),
      status: (text) => process.stderr.write(`\r\x1b[2K${text}`),
    }
  : {
      log: (text) =>
        process.stderr.write(`${JSON.stringify({ at: new Date().toISOString(), message: text })}\n`),
    };

const d = DEFAULT_LOAD_SETTINGS;

/** `--fail-if`, repeatable: each expression parsed as it comes, a bad one refused as a bad flag. */
function collectThreshold(value: string, previous: Threshold[]): Threshold[] {
  try {
    return [...previous, parseThreshold(value)];
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

function withCommonOptions(command: Command): Command {
  return command
    .addOption(new Option('--stack <file>', 'a stack description (pnpm dev --write-endpoints FILE)'))
    .addOption(
      new Option('--provider <name>', 'start a stack for this run from the default policy')
        .choices(['emulators', 'containers'])
        .default(undefined, 'emulators, when neither --stack nor --target is given'),
    )
    .addOption(
      new Option('--target <url>', 'a bare TF Serving: grpc://HOST:PORT or http://HOST:PORT (no gateway)'),
    )
    .addOption(
      new Option('--transport <kind>', 'gRPC Predict or REST :predict')
        .choices(['grpc', 'rest'])
        .default(d.transport),
    )
    .option('--model <name>', 'the model to call', d.model)
    .addOption(
      new Option('--tensor-form <form>', 'gRPC tensors')
        .choices(['content', 'repeated'])
        .default(d.tensorForm),
    )
    .addOption(
      new Option('--rest-format <format>', 'REST bodies').choices(['row', 'columnar']).default(d.restFormat),
    )
    .addOption(
      new Option('--grpc-client <client>', 'node:http2 with frames built once, or grpc-js')
        .choices(['http2', 'grpc-js'])
        .default(d.grpcClient),
    )
    .option(
      '--connections <n>',
      'gRPC channels or HTTP connections per worker',
      positiveInteger,
      d.connections,
    )
    .option('--workers <n>', 'sending threads, their histograms merged', positiveInteger, d.workers)
    .option('--warmup <duration>', 'sent but not measured, per measurement', durationMs, d.warmupMs)
    .option('--window <duration>', 'time-series and stability window', durationMs, d.windowMs)
    .option(
      '--late-threshold <duration>',
      'a send later than this counts as late',
      durationMs,
      d.lateThresholdMs,
    )
    .option('--timeout <duration>', 'per request', durationMs, d.timeoutMs)
    .option('--rate <n>', 'open loop: requests/s', positiveNumber, 50)
    .addOption(
      new Option('--arrival <kind>', 'open loop arrivals')
        .choices(['constant', 'poisson'])
        .default('constant'),
    )
    .option('--step <stages>', 'open loop steps: RATE:DURATION,... (e.g. 50:2s,100:2s)', stepStages)
    .option('--ramp <spec>', 'open loop ramp: FROM..TO:DURATION (e.g. 10..100:5s)', rampSpec)
    .option('--trace <file>', 'open loop: intended send times in ms, one per line')
    .option('--concurrency <n>', 'closed loop with this many users instead of an open loop', positiveInteger)
    .option(
      '--max-in-flight <n>',
      'open loop: sends beyond this many outstanding are dropped (and counted)',
      positiveInteger,
      1024,
    )
    .option(
      '--client <id>',
      'the client whose tokens the gateway arms send',
      'the first client allowed the model',
    )
    .option('--tokens <n>', 'distinct tokens minted before the run, used round robin', positiveInteger, 1)
    .option(
      '--bad-token-share <0..1>',
      'share of requests with an altered-signature token (refusals expected)',
      share,
      0,
    )
    .option('--out <dir>', 'where the reports go', 'reports/loadgen')
    .option('--name <name>', 'report file name (without extension)', 'the scenario')
    .option(
      '--fail-if <expression>',
      "exit 3 if it holds for any result (repeatable): 'p99>50ms', 'errors>1%', 'rps<500', 'full-policy:p99>20ms', 'generator-limited'",
      collectThreshold,
      [] as Threshold[],
    )
    .option('--no-progress', 'no progress lines');
}

type RawOptions = Record<string, unknown>;

function commonFlags(raw: RawOptions): CommonFlags & LoadFlags {
  return {
    settings: {
      transport: raw.transport as 'grpc' | 'rest',
      model: raw.model as string,
      tensorForm: raw.tensorForm as 'content' | 'repeated',
      grpcClient: raw.grpcClient as 'http2' | 'grpc-js',
      restFormat: raw.restFormat as 'row' | 'columnar',
      connections: raw.connections as number,
      workers: raw.workers as number,
      warmupMs: raw.warmup as number,
      windowMs: raw.window as number,
      lateThresholdMs: raw.lateThreshold as number,
      timeoutMs: raw.timeout as number,
    },
    target: {
      ...(raw.stack ? { stack: raw.stack as string } : {}),
      ...(raw.provider ? { provider: raw.provider as 'emulators' | 'containers' } : {}),
      ...(raw.target ? { target: raw.target as string } : {}),
    },
    ...(raw.client !== 'the first client allowed the model' ? { client: raw.client as string } : {}),
    tokens: raw.tokens as number,
    badTokenShare: raw.badTokenShare as number,
    out: raw.out as string,
    ...(raw.name !== 'the scenario' ? { name: raw.name as string } : {}),
    failIf: raw.failIf as Threshold[],
    progress: raw.progress as boolean,
    rate: raw.rate as number,
    arrival: raw.arrival as 'constant' | 'poisson',
    ...(raw.step ? { step: raw.step as LoadFlags['step'] } : {}),
    ...(raw.ramp ? { ramp: raw.ramp as LoadFlags['ramp'] } : {}),
    ...(raw.trace ? { trace: raw.trace as string } : {}),
    ...(raw.concurrency ? { concurrency: raw.concurrency as number } : {}),
    maxInFlight: raw.maxInFlight as number,
  };
}

async function run(action: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await action();
  } catch (error) {
    const usage =
      error instanceof TargetError ||
      error instanceof StackDescriptionError ||
      error instanceof ScheduleError ||
      error instanceof ThresholdError ||
      error instanceof ReportError ||
      error instanceof MergeError;
    const known = usage || error instanceof StackStartError || error instanceof TokenRequestError;
    process.stderr.write(`${known ? (error as Error).message : ((error as Error).stack ?? String(error))}\n`);
    process.exitCode = usage ? EXIT.usage : EXIT.failed;
  }
}

const program = new Command('modelgate-loadgen')
  .description(
    'Load generator for TF Serving behind the gateway: latency from intended send times, the auth-overhead A/B, inference throughput.',
  )
  .showHelpAfterError();

withCommonOptions(
  program
    .command('auth-overhead')
    .description(
      'the same schedule against the model server and through the gateway, interleaved in blocks; deltas with 95% intervals',
    ),
)
  .option('--batch <n>', 'batch size', positiveInteger, 1)
  .option('--blocks <n>', 'interleaved blocks (each arm once per block)', positiveInteger, 4)
  .option('--block-duration <duration>', 'measured time per arm per block', durationMs, 2000)
  .action(async (raw: RawOptions) => {
    const flags: AuthOverheadFlags = {
      ...commonFlags(raw),
      batch: raw.batch as number,
      blocks: raw.blocks as number,
      blockDuration: raw.blockDuration as number,
    };
    await run(() => authOverheadCommand(flags, output));
  });

withCommonOptions(
  program
    .command('throughput')
    .description(
      'sweep batch size x concurrency (closed loop) or x rate (open loop); requests/s, inferences/s, latency per point',
    ),
)
  .addOption(
    new Option('--via <path>', 'straight to the model server or through the gateway')
      .choices(['direct', 'gateway'])
      .default('direct'),
  )
  .option('--batch-sizes <list>', 'batch sizes', integerList, [1, 8])
  .option(
    '--concurrencies <list>',
    'closed-loop users per point (default 1,4,16 unless --rates)',
    integerList,
  )
  .option('--rates <list>', 'open-loop constant rates per point', numberList)
  .option('--duration <duration>', 'measured time per point', durationMs, 3000)
  .option(
    '--max-trials <n>',
    'measure a point again until its windows are stable, at most this often',
    positiveInteger,
    2,
  )
  .option('--search-slo <slo>', 'then search the highest open-loop rate meeting it, e.g. p99<=50ms', sloSpec)
  .option('--search-start <rate>', 'first rate the search tries', positiveNumber, 50)
  .option('--search-max <rate>', 'highest rate the search tries', positiveNumber, 5000)
  .action(async (raw: RawOptions) => {
    const flags: ThroughputFlags = {
      ...commonFlags(raw),
      via: raw.via as 'direct' | 'gateway',
      batchSizes: raw.batchSizes as number[],
      ...(raw.concurrencies ? { concurrencies: raw.concurrencies as number[] } : {}),
      ...(raw.rates ? { rates: raw.rates as number[] } : {}),
      duration: raw.duration as number,
      maxTrials: raw.maxTrials as number,
      ...(raw.searchSlo ? { searchSlo: raw.searchSlo as ThroughputFlags['searchSlo'] & object } : {}),
      searchStart: raw.searchStart as number,
      searchMax: raw.searchMax as number,
    };
    await run(() => throughputCommand(flags, output));
  });

withCommonOptions(
  program
    .command('k6')
    .description(
      'run a scenario with your own k6 (not installed here: AGPL) from the bundled script; same report schema',
    )
    .argument('<scenario>', 'auth-overhead or throughput'),
)
  .addOption(
    new Option('--via <path>', 'throughput: straight to the model server or through the gateway')
      .choices(['direct', 'gateway'])
      .default('direct'),
  )
  .option('--batch <n>', 'batch size', positiveInteger, 1)
  .option('--blocks <n>', 'interleaved blocks (each arm once per block)', positiveInteger, 2)
  .option('--block-duration <duration>', 'time per arm per block', durationMs, 10_000)
  .option('--k6 <path>', 'the k6 executable', 'k6')
  .option(
    '--k6-threshold <expression>',
    'a k6 threshold on each arm latency, e.g. p(99)<50 (repeatable)',
    (value: string, previous: string[]) => [...previous, value],
    [] as string[],
  )
  .action(async (scenario: string, raw: RawOptions) => {
    if (scenario !== 'auth-overhead' && scenario !== 'throughput') {
      process.stderr.write(`k6 ${scenario}: expected auth-overhead or throughput\n`);
      process.exitCode = EXIT.usage;
      return;
    }
    const flags: K6Flags = {
      ...commonFlags(raw),
      rate: raw.rate as number,
      scenario,
      via: raw.via as 'direct' | 'gateway',
      batch: raw.batch as number,
      blocks: raw.blocks as number,
      blockDuration: raw.blockDuration as number,
      k6: raw.k6 as string,
      k6Thresholds: raw.k6Threshold as string[],
    };
    await run(() => k6Command(flags, output));
  });

program
  .command('merge')
  .description(
    'merge reports of one scenario run side by side (processes, machines): histograms added exactly',
  )
  .argument('<files...>', 'report JSON files')
  .option('--out <dir>', 'where the merged reports go', 'reports/loadgen')
  .option('--name <name>', 'report file name (without extension)', 'merged')
  .option(
    '--fail-if <expression>',
    'exit 3 if it holds for any merged result (repeatable)',
    collectThreshold,
    [] as Threshold[],
  )
  .action(async (files: string[], raw: RawOptions) => {
    await run(async () => {
      const reports = await Promise.all(
        files.map(async (file) => parseLoadReport(JSON.parse(await readFile(file, 'utf8')), file)),
      );
      const merged = mergeReports(reports, files);
      merged.thresholds = checkThresholds(raw.failIf as Threshold[], merged.results);
      output.log(
        `reports: ${(await writeReports(merged, raw.out as string, raw.name as string)).join(', ')}`,
      );
      return merged.thresholds.every((threshold) => threshold.passed) ? EXIT.ok : EXIT.threshold;
    });
  });

program.exitOverride((error) => {
  process.exit(error.exitCode === 0 ? 0 : EXIT.usage);
});
await program.parseAsync();
