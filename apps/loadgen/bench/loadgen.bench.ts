import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { summarize } from '../src/engine/latency-histogram.js';
import { type MeasurementPlan, measure } from '../src/engine/measurement.js';
import { bareTarget } from '../src/target/load-target.js';
import { predictPayload } from '../src/target/predict-payload.js';

// `pnpm --filter @modelgate/loadgen bench`: this engine beside ghz, vegeta and wrk, against the same target
// (bench-target.ts, its own process, answering at once), on the same cores, one after another, printing
// ratios. Tools not on PATH (or in ~/go/bin) are skipped, saying how to install them. Never a test: timings.
// BENCH_SECONDS (default 5), BENCH_CONCURRENCY (default 50), BENCH_RATE (REST open loop, default 1000).

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 50);
const rate = Number(process.env.BENCH_RATE ?? 1000);
const GO_BIN = join(process.env.HOME ?? '', 'go', 'bin');
const PROTO_ROOT = dirname(
  dirname(
    dirname(
      fileURLToPath(import.meta.resolve('@modelgate/proto/proto/tensorflow_serving/apis/predict.proto')),
    ),
  ),
);
// ghz's own .proto parser refuses proto3 `optional`; a protoset compiled by buf (from npm) carries the same
// descriptors
const BUF = fileURLToPath(new URL('../node_modules/.bin/buf', import.meta.url));

function run(command: string, args: string[]): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { maxBuffer: 64 * 1024 * 1024, env: { ...process.env, PATH: `${process.env.PATH}:${GO_BIN}` } },
      (error, stdout, stderr) => resolve({ ok: !error, stdout, stderr }),
    );
  });
}

async function startTarget(): Promise<{ grpcPort: number; httpPort: number; stop(): void }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(new URL('./bench-target.ts', import.meta.url))],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const line = await new Promise<string>((resolve) =>
    createInterface({ input: child.stdout }).once('line', resolve),
  );
  return {
    ...(JSON.parse(line) as { grpcPort: number; httpPort: number }),
    stop: () => child.kill('SIGTERM'),
  };
}

async function targetCpu(httpPort: number): Promise<{ cpuMicros: number; at: number }> {
  return (await fetch(`http://127.0.0.1:${httpPort}/cpu`)).json() as Promise<{
    cpuMicros: number;
    at: number;
  }>;
}

/** Runs a phase and says what share of one core the target used meanwhile. */
async function withTargetCpu<T>(
  httpPort: number,
  phase: () => Promise<T>,
): Promise<{ result: T; targetCpu: number }> {
  const before = await targetCpu(httpPort);
  const result = await phase();
  const after = await targetCpu(httpPort);
  return { result, targetCpu: (after.cpuMicros - before.cpuMicros) / 1000 / (after.at - before.at) };
}

const pct = (share: number) => `${(share * 100).toFixed(0)}%`;
const rows: string[][] = [];

const target = await startTarget();
const work = await mkdtemp(join(tmpdir(), 'loadgen-bench-'));
try {
  const payload = predictPayload('half_plus_two', bareTarget('grpc://x:1').signature('half_plus_two'), 1, {
    tensorForm: 'content',
    restFormat: 'columnar',
  });
  const base = { warmupMs: 500, durationMs: seconds * 1000, windowMs: 1000, lateThresholdMs: 2, workers: 1 };
  const grpcPlan: MeasurementPlan = {
    ...base,
    model: { kind: 'closed', concurrency },
    transport: {
      kind: 'grpc',
      address: `127.0.0.1:${target.grpcPort}`,
      body: payload.grpc,
      channels: 4,
      timeoutMs: 10_000,
      tokens: null,
    },
  };
  const restUrl = `http://127.0.0.1:${target.httpPort}${payload.restPath}`;

  // gRPC: highest achieved rate, closed loop, same concurrency and connections
  // ghz uses every core (--cpus defaults to all of them): this engine with one thread and with one per core
  const ours = await withTargetCpu(target.httpPort, () => measure(grpcPlan));
  const oursRps = ours.result.recorder.completed / seconds;
  const workers = availableParallelism();
  const oursThreads = await withTargetCpu(target.httpPort, () => measure({ ...grpcPlan, workers }));
  const grpcJs = await measure({
    ...grpcPlan,
    transport: { ...grpcPlan.transport, client: 'grpc-js' } as MeasurementPlan['transport'],
  });
  const grpcJsRps = grpcJs.recorder.completed / seconds;
  const oursThreadsRps = oursThreads.result.recorder.completed / seconds;
  const requestFile = join(work, 'predict.bin');
  await writeFile(requestFile, payload.grpc);
  const protoset = join(work, 'tf-serving.binpb');
  await run(BUF, ['build', dirname(PROTO_ROOT), '-o', protoset]);
  const ghz = await withTargetCpu(target.httpPort, () =>
    run('ghz', [
      '--insecure',
      '--protoset',
      protoset,
      '--call',
      'tensorflow.serving.PredictionService/Predict',
      '-B',
      requestFile,
      '-c',
      String(concurrency),
      '--connections',
      '4',
      '-z',
      `${seconds}s`,
      '-O',
      'json',
      `127.0.0.1:${target.grpcPort}`,
    ]),
  );
  if (ghz.result.ok) {
    const ghzRps = (JSON.parse(ghz.result.stdout) as { rps: number }).rps;
    rows.push([
      'gRPC max rate (closed loop), 1 thread',
      `${oursRps.toFixed(0)} req/s`,
      `ghz ${ghzRps.toFixed(0)} req/s`,
      `${(oursRps / ghzRps).toFixed(2)}x`,
      `target CPU ${pct(ours.targetCpu)} / ${pct(ghz.targetCpu)}`,
    ]);
    rows.push([
      'gRPC max rate (closed loop), 1 thread, grpc-js client',
      `${grpcJsRps.toFixed(0)} req/s`,
      `ghz ${ghzRps.toFixed(0)} req/s`,
      `${(grpcJsRps / ghzRps).toFixed(2)}x`,
      '',
    ]);
    rows.push([
      `gRPC max rate (closed loop), ${workers} threads`,
      `${oursThreadsRps.toFixed(0)} req/s`,
      `ghz ${ghzRps.toFixed(0)} req/s`,
      `${(oursThreadsRps / ghzRps).toFixed(2)}x`,
      `target CPU ${pct(oursThreads.targetCpu)} / ${pct(ghz.targetCpu)}`,
    ]);
  } else {
    rows.push([
      'gRPC max rate',
      `${oursRps.toFixed(0)} req/s`,
      'ghz not run: go install github.com/bojand/ghz/cmd/ghz@v0.93.0',
      '',
      ghz.result.stderr.split('\n')[0] ?? '',
    ]);
  }

  // REST open loop at an equal rate: latency against vegeta
  const restOpen = await measure({
    ...base,
    model: { kind: 'open', schedule: { kind: 'constant', rate }, maxInFlight: 1024 },
    transport: {
      kind: 'rest',
      url: restUrl,
      body: payload.rest,
      connections: 64,
      timeoutMs: 10_000,
      tokens: null,
    },
  });
  const oursLatency = summarize(restOpen.recorder.fromIntended);
  const bodyFile = join(work, 'body.json');
  await writeFile(bodyFile, payload.rest);
  const targets = join(work, 'targets.txt');
  await writeFile(targets, `POST ${restUrl}\nContent-Type: application/json\n@${bodyFile}\n`);
  const vegetaOut = join(work, 'vegeta.bin');
  const attack = await run('vegeta', [
    'attack',
    '-targets',
    targets,
    '-rate',
    String(rate),
    '-duration',
    `${seconds}s`,
    '-output',
    vegetaOut,
  ]);
  const vegeta = attack.ok ? await run('vegeta', ['report', '-type', 'json', vegetaOut]) : attack;
  if (vegeta.ok) {
    const latencies = (JSON.parse(vegeta.stdout) as { latencies: { '50th': number; '99th': number } })
      .latencies;
    const v50 = latencies['50th'] / 1e6;
    const v99 = latencies['99th'] / 1e6;
    rows.push([
      `REST open loop ${rate} req/s p50`,
      `${oursLatency.p50} ms`,
      `vegeta ${v50.toFixed(3)} ms`,
      `${(oursLatency.p50 / v50).toFixed(2)}x`,
      restOpen.generatorLimited ? `generator-limited: ${restOpen.generatorLimitReasons.join('; ')}` : '',
    ]);
    rows.push([
      `REST open loop ${rate} req/s p99`,
      `${oursLatency.p99} ms`,
      `vegeta ${v99.toFixed(3)} ms`,
      `${(oursLatency.p99 / v99).toFixed(2)}x`,
      '',
    ]);
  } else {
    rows.push([
      'REST open loop',
      `${oursLatency.p50} / ${oursLatency.p99} ms`,
      'vegeta not run: go install github.com/tsenart/vegeta/v12@v12.13.0',
      '',
      '',
    ]);
  }

  // REST maximum, closed loop, against wrk
  const restMax = await withTargetCpu(target.httpPort, () =>
    measure({
      ...base,
      model: { kind: 'closed', concurrency },
      transport: {
        kind: 'rest',
        url: restUrl,
        body: payload.rest,
        connections: concurrency,
        timeoutMs: 10_000,
        tokens: null,
      },
    }),
  );
  const oursRestRps = restMax.result.recorder.completed / seconds;
  const lua = join(work, 'post.lua');
  await writeFile(
    lua,
    `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = ${JSON.stringify(Buffer.from(payload.rest).toString())}\n`,
  );
  const wrk = await withTargetCpu(target.httpPort, () =>
    run('wrk', ['-t1', `-c${concurrency}`, `-d${seconds}s`, '-s', lua, restUrl]),
  );
  const wrkRps = Number(/Requests\/sec:\s+([0-9.]+)/.exec(wrk.result.stdout)?.[1]);
  if (wrk.result.ok && Number.isFinite(wrkRps)) {
    rows.push([
      'REST max rate (closed loop)',
      `${oursRestRps.toFixed(0)} req/s`,
      `wrk ${wrkRps.toFixed(0)} req/s`,
      `${(oursRestRps / wrkRps).toFixed(2)}x`,
      `target CPU ${pct(restMax.targetCpu)} / ${pct(wrk.targetCpu)}`,
    ]);
  } else {
    rows.push([
      'REST max rate',
      `${oursRestRps.toFixed(0)} req/s`,
      'wrk not run: apt-get install wrk',
      '',
      '',
    ]);
  }
} finally {
  target.stop();
  await rm(work, { recursive: true, force: true });
}

const header = ['measure', 'loadgen', 'reference', 'ratio', 'note'];
process.stdout.write(
  `${[header, header.map(() => '---'), ...rows].map((row) => `| ${row.join(' | ')} |`).join('\n')}\n`,
);
