import type { LoadModel } from '../engine/load-engine.js';
import { type Measurement, measure, type WindowProgress } from '../engine/measurement.js';
import type { PointResult } from '../report/load-report.js';
import type { LoadTarget } from '../target/load-target.js';
import { predictPayload } from '../target/predict-payload.js';
import type { TokenSource } from '../tokens/token-supply.js';
import { type LoadSettings, loadOf, measurementPlan, transportSpec } from './load-settings.js';
import { pointResult } from './point-result.js';

// Throughput sweeps: batch size x concurrency (closed loop) or x rate (open loop); requests/s, inferences/s
// and latency per point. A point is measured again, up to `maxTrials` times, until its windows are stable.
// With an SLO, a search for the highest open-loop rate that meets it.

export interface ThroughputOptions {
  settings: LoadSettings;
  target: LoadTarget;
  /** Through the gateway (with tokens) or straight to the model server. */
  via: 'direct' | 'gateway';
  tokens: TokenSource | null;
  batchSizes: number[];
  /** One of the two: closed-loop concurrencies, or open-loop constant rates. */
  concurrencies: number[];
  rates: number[];
  maxInFlight: number;
  durationMs: number;
  maxTrials: number;
  onPoint?: (label: string, measurement: Measurement) => void;
  /** Live progress while a point runs (from this thread). */
  onWindow?: WindowProgress;
}

export interface Slo {
  percentile: 'p50' | 'p90' | 'p99' | 'p999';
  ms: number;
}

function endpointOf(options: ThroughputOptions) {
  if (options.via === 'direct') return options.target.modelServer;
  if (!options.target.gateway)
    throw new Error('--via gateway needs a stack with a gateway (not a bare --target)');
  return { grpc: options.target.gateway.grpc, rest: options.target.gateway.http };
}

async function measurePoint(
  options: ThroughputOptions,
  batchSize: number,
  model: LoadModel,
  label: string,
): Promise<PointResult> {
  const { settings, target } = options;
  const payload = predictPayload(settings.model, target.signature(settings.model), batchSize, settings);
  let result: PointResult | undefined;
  for (let trial = 1; trial <= options.maxTrials; trial++) {
    const tokens = options.via === 'gateway' && options.tokens ? await options.tokens.choice() : null;
    const transport = transportSpec(settings, endpointOf(options), payload, tokens);
    const measurement = await measure(
      measurementPlan(settings, model, transport, options.durationMs),
      options.onWindow,
    );
    options.onPoint?.(label, measurement);
    result = pointResult(measurement.recorder, [measurement], {
      label,
      arm: null,
      transport: settings.transport,
      batchSize,
      load: loadOf(model),
      durationMs: options.durationMs,
      workers: settings.workers,
      trials: trial,
    });
    if (result.stability.stable) break;
  }
  return result as PointResult;
}

export async function runThroughputSweep(options: ThroughputOptions): Promise<PointResult[]> {
  const points: PointResult[] = [];
  for (const batchSize of options.batchSizes) {
    for (const concurrency of options.concurrencies) {
      points.push(
        await measurePoint(
          options,
          batchSize,
          { kind: 'closed', concurrency },
          `batch=${batchSize} concurrency=${concurrency}`,
        ),
      );
    }
    for (const rate of options.rates) {
      const model: LoadModel = {
        kind: 'open',
        schedule: { kind: 'constant', rate },
        maxInFlight: options.maxInFlight,
      };
      points.push(await measurePoint(options, batchSize, model, `batch=${batchSize} rate=${rate}`));
    }
  }
  return points;
}

/** Whether a point met the SLO with the server, not the generator, as the limit. */
export function meetsSlo(point: PointResult, slo: Slo, rate: number): boolean {
  const errors = Object.values(point.errors).reduce((a, b) => a + b, 0);
  return (
    point.latencyMs[slo.percentile] <= slo.ms &&
    errors <= point.requests * 0.01 &&
    point.achievedRps >= rate * 0.95 &&
    !point.generatorLimited
  );
}

/**
 * The highest constant rate that meets the SLO: double from `startRate` until a rate fails (or `maxRate`),
 * then bisect `steps` times between the last pass and the first failure.
 */
export async function searchRate(
  options: ThroughputOptions,
  slo: Slo,
  search: { startRate: number; maxRate: number; steps: number },
): Promise<{ bestRate: number | null; tried: number[]; points: PointResult[] }> {
  const batchSize = options.batchSizes[0] ?? 1;
  const tried: number[] = [];
  const points: PointResult[] = [];
  const attempt = async (rate: number) => {
    tried.push(rate);
    const model: LoadModel = {
      kind: 'open',
      schedule: { kind: 'constant', rate },
      maxInFlight: options.maxInFlight,
    };
    const point = await measurePoint(options, batchSize, model, `search rate=${rate}`);
    points.push(point);
    return meetsSlo(point, slo, rate);
  };
  let pass: number | null = null;
  let fail: number | null = null;
  for (let rate = search.startRate; rate <= search.maxRate; rate *= 2) {
    if (await attempt(rate)) pass = rate;
    else {
      fail = rate;
      break;
    }
  }
  if (pass !== null && fail !== null) {
    let low = pass;
    let high = fail;
    for (let step = 0; step < search.steps; step++) {
      const mid = Math.round((low + high) / 2);
      if (mid === low || mid === high) break;
      if (await attempt(mid)) low = mid;
      else high = mid;
    }
    pass = low;
  }
  return { bestRate: pass, tried, points };
}
