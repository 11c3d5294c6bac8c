import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fromBinary, toJsonString } from '@bufbuild/protobuf';
import { PredictRequestSchema } from '@modelgate/proto';
import type { K6Arm, K6Config } from '../k6/k6-config.js';
import { parseLoadReport } from '../report/load-report.js';
import { writeReports } from '../report/write-reports.js';
import { clientTokens } from '../target/client-tokens.js';
import type { LoadTarget } from '../target/load-target.js';
import { predictPayload } from '../target/predict-payload.js';
import { type CommonFlags, EXIT, type Output, resolveTarget } from './run-scenario.js';

// `modelgate-loadgen k6 <scenario>`: the same scenario run by the user's own k6 (never installed here: AGPL).
// Mints the tokens and serializes the payloads as the Node engine does, writes them beside a config for the
// bundled script (dist/k6/predict.js), runs `k6 run`, and turns the summary it writes (our report schema)
// into the Markdown, HTML and CSV reports.

export interface K6Flags extends CommonFlags {
  scenario: 'auth-overhead' | 'throughput';
  via: 'direct' | 'gateway';
  rate: number;
  batch: number;
  blocks: number;
  blockDuration: number;
  /** The k6 executable. */
  k6: string;
  /** k6 thresholds on each arm's latency metric, e.g. p(99)<50. */
  k6Thresholds: string[];
}

const SCRIPT = fileURLToPath(
  new URL(import.meta.url.endsWith('.ts') ? '../../dist/k6/predict.js' : '../k6/predict.js', import.meta.url),
);
const PROTO_ROOT = dirname(
  dirname(
    dirname(
      fileURLToPath(import.meta.resolve('@modelgate/proto/proto/tensorflow_serving/apis/predict.proto')),
    ),
  ),
);

function armsFor(
  flags: K6Flags,
  target: LoadTarget,
  restPath: string,
  tokens: { good: string[]; bad: string[]; badShare: number } | null,
): K6Arm[] {
  const protocol = flags.settings.transport === 'grpc' ? 'grpc' : 'http';
  const at = (endpoint: { grpc: string | null; rest: string | null }) =>
    protocol === 'grpc' ? (endpoint.grpc ?? '') : new URL(restPath, endpoint.rest ?? '').href;
  const direct: K6Arm = {
    arm: 'direct',
    protocol,
    target: at(target.modelServer),
    tokens: [],
    badTokens: [],
    badShare: 0,
  };
  const gateway: K6Arm | null =
    target.gateway && tokens
      ? {
          arm: 'full-policy',
          protocol,
          target: at({ grpc: target.gateway.grpc, rest: target.gateway.http }),
          tokens: tokens.good,
          badTokens: tokens.bad,
          badShare: tokens.badShare,
        }
      : null;
  if (flags.scenario === 'auth-overhead') return gateway ? [direct, gateway] : [direct];
  if (flags.via === 'gateway') {
    if (!gateway)
      throw new Error('--via gateway needs a stack with a gateway and a client allowed the model');
    return [gateway];
  }
  return [direct];
}

function runK6(executable: string, args: string[], output: Output): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(executable, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') {
        output.log(
          `k6 was not found (${executable}). k6 is AGPL-licensed and is not installed by this project: install it yourself (https://grafana.com/docs/k6/latest/set-up/install-k6/) or pass --k6 PATH`,
        );
        resolve(-1);
        return;
      }
      reject(error);
    });
    child.once('exit', (code) => resolve(code ?? 1));
  });
}

export async function k6Command(flags: K6Flags, output: Output): Promise<number> {
  const { target, stack, provider } = await resolveTarget(flags.target, output);
  const work = await mkdtemp(join(tmpdir(), 'modelgate-k6-'));
  try {
    const needsTokens = target.gateway && (flags.scenario === 'auth-overhead' || flags.via === 'gateway');
    const source = needsTokens
      ? await clientTokens(target, flags.settings.model, {
          client: flags.client,
          distinct: flags.tokens,
          badShare: flags.badTokenShare,
        })
      : null;
    const tokens = source ? await source.choice() : null;
    const payload = predictPayload(
      flags.settings.model,
      target.signature(flags.settings.model),
      flags.batch,
      flags.settings,
    );
    const restBodyFile = join(work, 'rest-body.json');
    const grpcRequestFile = join(work, 'predict-request.json');
    await writeFile(restBodyFile, payload.rest);
    await writeFile(
      grpcRequestFile,
      toJsonString(PredictRequestSchema, fromBinary(PredictRequestSchema, payload.grpc)),
    );
    const summaryFile = join(work, 'summary.json');
    const config: K6Config = {
      scenario: flags.scenario,
      arms: armsFor(flags, target, payload.restPath, tokens),
      rate: flags.rate,
      blocks: flags.blocks,
      blockSeconds: flags.blockDuration / 1000,
      batchSize: flags.batch,
      restBodyFile,
      grpcRequestFile,
      protoRoot: PROTO_ROOT,
      summaryFile,
      thresholds: flags.k6Thresholds,
    };
    const code = await runK6(
      flags.k6,
      ['run', '-e', `MODELGATE_K6_CONFIG=${JSON.stringify(config)}`, SCRIPT],
      output,
    );
    if (code === -1) return EXIT.failed;
    const report = parseLoadReport(
      JSON.parse(await readFile(summaryFile, 'utf8')),
      `k6 summary ${summaryFile}`,
    );
    report.target = { kind: target.kind, source: target.source, provider };
    const files = await writeReports(report, flags.out, flags.name ?? `k6-${flags.scenario}`);
    output.log(`reports: ${files.join(', ')}`);
    // k6 exits 99 when a threshold failed
    if (code === 99) return EXIT.threshold;
    return code === 0 ? EXIT.ok : EXIT.failed;
  } finally {
    await rm(work, { recursive: true, force: true });
    await stack?.stop();
  }
}
