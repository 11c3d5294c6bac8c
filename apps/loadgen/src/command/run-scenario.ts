import { readFile } from 'node:fs/promises';
import type { RunningStack, StackProgress } from '@modelgate/stack';
import { summarize } from '../engine/latency-histogram.js';
import type { LoadModel } from '../engine/load-engine.js';
import type { Measurement, WindowProgress } from '../engine/measurement.js';
import type { GpuSample, LoadReport, PointResult } from '../report/load-report.js';
import { REPORT_SCHEMA_VERSION } from '../report/load-report.js';
import { checkThresholds, type Threshold } from '../report/thresholds.js';
import { writeReports } from '../report/write-reports.js';
import { runAuthOverhead } from '../scenarios/auth-overhead.js';
import type { LoadSettings } from '../scenarios/load-settings.js';
import { runThroughputSweep, type Slo, searchRate } from '../scenarios/throughput.js';
import { type ArrivalSchedule, parseTrace } from '../schedule/arrival-schedule.js';
import { clientTokens } from '../target/client-tokens.js';
import { bareTarget, type LoadTarget, stackFileTarget, stackTarget } from '../target/load-target.js';
import { startStackFor } from '../target/started-stack.js';
import { nvidiaSmiAvailable, sampleGpus } from '../telemetry/nvidia-smi.js';
import { type PrometheusSource, startScrape } from '../telemetry/prometheus-scrape.js';

// One command's run from flags to files: find or start the target, mint the tokens, start telemetry, run the
// scenario, write the reports, check the thresholds. Returns the exit code.

export const EXIT = { ok: 0, failed: 1, usage: 2, threshold: 3 } as const;

export interface TargetFlags {
  stack?: string;
  provider?: 'emulators' | 'containers';
  target?: string;
}

export interface LoadFlags {
  rate?: number;
  arrival: 'constant' | 'poisson';
  step?: ArrivalSchedule;
  ramp?: ArrivalSchedule;
  trace?: string;
  concurrency?: number;
  maxInFlight: number;
}

export interface CommonFlags {
  settings: LoadSettings;
  target: TargetFlags;
  client?: string;
  tokens: number;
  badTokenShare: number;
  out: string;
  name?: string;
  failIf: Threshold[];
  progress: boolean;
}

export interface Output {
  /** Progress and notices (stderr). */
  log(text: string): void;
  /** A live status line, overwritten in place (a TTY only; elsewhere nothing). */
  status?(text: string): void;
}

/** The live line while a measurement runs: elapsed time, requests, errors, p99 so far. */
function liveProgress(output: Output): WindowProgress | undefined {
  if (!output.status) return undefined;
  const status = output.status;
  return (recorder, elapsedMs) => {
    const errors = [...recorder.errors.values()].reduce((a, b) => a + b, 0);
    const p99 =
      recorder.fromIntended.totalCount > 0 ? recorder.fromIntended.getValueAtPercentile(99) / 1000 : 0;
    status(
      `  ${(elapsedMs / 1000).toFixed(1)} s: ${recorder.completed} requests, ${errors} errors, p99 ${p99.toFixed(2)} ms, late ${recorder.lateSends}, dropped ${recorder.droppedSends}`,
    );
  };
}

const VERSION = '0.1.0';

async function scheduleOf(flags: LoadFlags): Promise<LoadModel> {
  if (flags.concurrency !== undefined) return { kind: 'closed', concurrency: flags.concurrency };
  let schedule: ArrivalSchedule;
  if (flags.step) schedule = flags.step;
  else if (flags.ramp) schedule = flags.ramp;
  else if (flags.trace) schedule = parseTrace(await readFile(flags.trace, 'utf8'), flags.trace);
  else schedule = { kind: flags.arrival, rate: flags.rate ?? 50 };
  return { kind: 'open', schedule, maxInFlight: flags.maxInFlight };
}

export async function resolveTarget(
  flags: TargetFlags,
  output: Output,
): Promise<{ target: LoadTarget; stack: RunningStack | null; provider: string | null }> {
  if (flags.target) return { target: bareTarget(flags.target), stack: null, provider: null };
  if (flags.stack) {
    const target = await stackFileTarget(flags.stack);
    return { target, stack: null, provider: target.description?.provider ?? null };
  }
  const provider = flags.provider ?? 'emulators';
  output.log(`starting the ${provider} stack (default policy)`);
  const onProgress = (event: StackProgress) => {
    if (event.state !== 'starting')
      output.log(`  ${event.service} ${event.state} (${(event.elapsedMs / 1000).toFixed(1)} s)`);
  };
  const stack = await startStackFor(provider, onProgress, process.env);
  return {
    target: stackTarget(stack.description, `${provider} stack started for this run`),
    stack,
    provider,
  };
}

function telemetrySources(target: LoadTarget): PrometheusSource[] {
  const sources: PrometheusSource[] = [];
  if (target.gateway?.metrics) sources.push({ source: 'gateway', url: target.gateway.metrics });
  if (target.modelServer.metrics) sources.push({ source: 'model-server', url: target.modelServer.metrics });
  return sources;
}

function progressLine(label: string, measurement: Measurement): string {
  const r = measurement.recorder;
  const l = summarize(r.fromIntended);
  const errors = [...r.errors.values()].reduce((a, b) => a + b, 0);
  const limited = measurement.generatorLimited
    ? `  GENERATOR-LIMITED: ${measurement.generatorLimitReasons.join('; ')}`
    : '';
  return `  ${label}: ${r.completed} requests, ${errors} errors, p50 ${l.p50} ms, p99 ${l.p99} ms, max ${l.max} ms, late ${r.lateSends}, dropped ${r.droppedSends}${limited}`;
}

export interface AuthOverheadFlags extends CommonFlags, LoadFlags {
  batch: number;
  blocks: number;
  blockDuration: number;
}

export interface ThroughputFlags extends CommonFlags, LoadFlags {
  via: 'direct' | 'gateway';
  batchSizes: number[];
  concurrencies?: number[];
  rates?: number[];
  duration: number;
  maxTrials: number;
  searchSlo?: Slo;
  searchStart: number;
  searchMax: number;
}

interface ScenarioOutcome {
  results: PointResult[];
  deltas: LoadReport['deltas'];
  unavailableArms: LoadReport['unavailableArms'];
  search: LoadReport['search'];
}

async function runWithTarget(
  scenario: LoadReport['scenario'],
  flags: CommonFlags,
  parameters: Record<string, unknown>,
  output: Output,
  body: (target: LoadTarget) => Promise<ScenarioOutcome>,
): Promise<number> {
  const { target, stack, provider } = await resolveTarget(flags.target, output);
  try {
    const startedAt = new Date().toISOString();
    const scrape = await startScrape(telemetrySources(target));
    const gpu = (await nvidiaSmiAvailable()) ? sampleGpus(500) : null;
    let outcome: ScenarioOutcome;
    let gpuSamples: GpuSample[] = [];
    try {
      outcome = await body(target);
    } finally {
      // the sampler is stopped even when the run failed half-way
      gpuSamples = gpu?.stop() ?? [];
    }
    const prometheus = await scrape.finish();
    const report: LoadReport = {
      schemaVersion: REPORT_SCHEMA_VERSION,
      tool: { name: '@modelgate/loadgen', version: VERSION, engine: 'node' },
      scenario,
      parameters,
      target: { kind: target.kind, source: target.source, provider },
      startedAt,
      endedAt: new Date().toISOString(),
      ...outcome,
      telemetry: {
        prometheus,
        gpu: gpuSamples,
        gpuNote: gpu ? `${gpuSamples.length} nvidia-smi samples` : 'no nvidia-smi here: no GPU telemetry',
      },
      thresholds: [],
    };
    report.thresholds = checkThresholds(flags.failIf, report.results);
    const files = await writeReports(report, flags.out, flags.name ?? scenario);
    output.log(`reports: ${files.join(', ')}`);
    for (const threshold of report.thresholds) {
      output.log(
        `threshold ${threshold.expression}: ${threshold.passed ? 'passed' : 'FAILED'} (${threshold.detail})`,
      );
    }
    if (report.results.some((point) => point.generatorLimited)) {
      output.log('note: some results were limited by the generator, not the server (see the report)');
    }
    return report.thresholds.every((threshold) => threshold.passed) ? EXIT.ok : EXIT.threshold;
  } finally {
    await stack?.stop();
  }
}

export async function authOverheadCommand(flags: AuthOverheadFlags, output: Output): Promise<number> {
  const load = await scheduleOf(flags);
  const parameters = {
    transport: flags.settings.transport,
    model: flags.settings.model,
    batchSize: flags.batch,
    load,
    blocks: flags.blocks,
    blockMs: flags.blockDuration,
    warmupMs: flags.settings.warmupMs,
    workers: flags.settings.workers,
    connections: flags.settings.connections,
    tokens: flags.tokens,
    badTokenShare: flags.badTokenShare,
  };
  return runWithTarget('auth-overhead', flags, parameters, output, async (target) => {
    const tokens = target.gateway
      ? await clientTokens(target, flags.settings.model, {
          client: flags.client,
          distinct: flags.tokens,
          badShare: flags.badTokenShare,
        })
      : null;
    const result = await runAuthOverhead({
      settings: flags.settings,
      target,
      load,
      batchSize: flags.batch,
      blocks: flags.blocks,
      blockMs: flags.blockDuration,
      tokens,
      ...(flags.progress ? { onWindow: liveProgress(output) } : {}),
      onBlock: flags.progress
        ? (block, arm, measurement) =>
            output.log(progressLine(`block ${block + 1}/${flags.blocks} ${arm}`, measurement))
        : undefined,
    });
    return { ...result, search: null };
  });
}

export async function throughputCommand(flags: ThroughputFlags, output: Output): Promise<number> {
  const concurrencies = flags.concurrencies ?? (flags.rates ? [] : [1, 4, 16]);
  const parameters = {
    transport: flags.settings.transport,
    model: flags.settings.model,
    via: flags.via,
    batchSizes: flags.batchSizes,
    concurrencies,
    rates: flags.rates ?? [],
    durationMs: flags.duration,
    maxTrials: flags.maxTrials,
    warmupMs: flags.settings.warmupMs,
    workers: flags.settings.workers,
    connections: flags.settings.connections,
    searchSlo: flags.searchSlo ?? null,
  };
  return runWithTarget('throughput', flags, parameters, output, async (target) => {
    const tokens =
      flags.via === 'gateway'
        ? await clientTokens(target, flags.settings.model, {
            client: flags.client,
            distinct: flags.tokens,
            badShare: flags.badTokenShare,
          })
        : null;
    const options = {
      settings: flags.settings,
      target,
      via: flags.via,
      tokens,
      batchSizes: flags.batchSizes,
      concurrencies,
      rates: flags.rates ?? [],
      maxInFlight: flags.maxInFlight,
      durationMs: flags.duration,
      maxTrials: flags.maxTrials,
      ...(flags.progress ? { onWindow: liveProgress(output) } : {}),
      onPoint: flags.progress
        ? (label: string, m: Measurement) => output.log(progressLine(label, m))
        : undefined,
    };
    const results = await runThroughputSweep(options);
    let search: LoadReport['search'] = null;
    if (flags.searchSlo) {
      const found = await searchRate(options, flags.searchSlo, {
        startRate: flags.searchStart,
        maxRate: flags.searchMax,
        steps: 4,
      });
      results.push(...found.points);
      search = {
        slo: `${flags.searchSlo.percentile}<=${flags.searchSlo.ms}ms`,
        bestRate: found.bestRate,
        tried: found.tried,
      };
    }
    return { results, deltas: [], unavailableArms: [], search };
  });
}
