import { summarize } from '../engine/latency-histogram.js';
import type { LoadModel } from '../engine/load-engine.js';
import { type Measurement, measure, type WindowProgress } from '../engine/measurement.js';
import { RunRecorder } from '../engine/run-recorder.js';
import type { Delta, PointResult } from '../report/load-report.js';
import type { LoadTarget } from '../target/load-target.js';
import { predictPayload } from '../target/predict-payload.js';
import type { TokenSource } from '../tokens/token-supply.js';
import type { TransportSpec } from '../transport/transport-spec.js';
import { meanDifferenceInterval } from './confidence-interval.js';
import { type LoadSettings, loadOf, measurementPlan, transportSpec } from './load-settings.js';
import { pointResult } from './point-result.js';

// The auth-overhead A/B: the identical schedule against each arm (the model server directly, the gateway
// without auth, with JWT alone, with the full policy), interleaved in blocks (the arm order rotating from
// block to block) so that drift in the machine or the server hits every arm alike. Each arm's blocks merge
// into its result; the deltas against the direct arm are the mean of the per-block differences with a 95%
// interval.

export const AUTH_OVERHEAD_ARMS = ['direct', 'gateway-no-auth', 'jwt', 'full-policy'] as const;
export type AuthOverheadArm = (typeof AUTH_OVERHEAD_ARMS)[number];

export interface AuthOverheadOptions {
  settings: LoadSettings;
  target: LoadTarget;
  load: LoadModel;
  batchSize: number;
  blocks: number;
  blockMs: number;
  /** Tokens for the gateway arms (minted before the run, refreshed between blocks). */
  tokens: TokenSource | null;
  onBlock?: (block: number, arm: AuthOverheadArm, measurement: Measurement) => void;
  /** Live progress while a block runs (from this thread). */
  onWindow?: WindowProgress;
}

export interface AuthOverheadResult {
  results: PointResult[];
  deltas: Delta[];
  unavailableArms: { arm: string; reason: string }[];
}

interface ArmPlan {
  arm: AuthOverheadArm;
  /** The transport for the next block (tokens as they are now). */
  transport(): Promise<TransportSpec>;
}

/** Which arms the target offers, and why the others are left out. */
export function armPlans(options: AuthOverheadOptions): {
  plans: ArmPlan[];
  unavailable: { arm: string; reason: string }[];
} {
  const { settings, target } = options;
  const payload = predictPayload(
    settings.model,
    target.signature(settings.model),
    options.batchSize,
    settings,
  );
  const direct = transportSpec(settings, target.modelServer, payload, null);
  const plans: ArmPlan[] = [{ arm: 'direct', transport: async () => direct }];
  const unavailable: { arm: string; reason: string }[] = [];
  const noGateway = 'the target has no gateway (--target points at a bare TF Serving)';
  const oneRouteSet =
    'the stack description names no gateway variants (gateway.variants): only the full policy is offered';
  const variants = target.gatewayVariants;
  if (!target.gateway) unavailable.push({ arm: 'gateway-no-auth', reason: noGateway });
  else if (!variants) unavailable.push({ arm: 'gateway-no-auth', reason: oneRouteSet });
  else {
    const noAuth = transportSpec(
      settings,
      { grpc: variants.noAuth.grpc, rest: variants.noAuth.http },
      payload,
      null,
    );
    plans.push({ arm: 'gateway-no-auth', transport: async () => noAuth });
  }
  if (!target.gateway) unavailable.push({ arm: 'jwt', reason: noGateway });
  else if (!variants) unavailable.push({ arm: 'jwt', reason: oneRouteSet });
  else if (!options.tokens) unavailable.push({ arm: 'jwt', reason: 'no client with access to the model' });
  else {
    const tokens = options.tokens;
    const jwt = { grpc: variants.jwt.grpc, rest: variants.jwt.http };
    plans.push({
      arm: 'jwt',
      transport: async () => transportSpec(settings, jwt, payload, await tokens.choice()),
    });
  }
  if (!target.gateway) unavailable.push({ arm: 'full-policy', reason: noGateway });
  else if (!options.tokens)
    unavailable.push({ arm: 'full-policy', reason: 'no client with access to the model' });
  else {
    const gateway = { grpc: target.gateway.grpc, rest: target.gateway.http };
    const tokens = options.tokens;
    plans.push({
      arm: 'full-policy',
      transport: async () => transportSpec(settings, gateway, payload, await tokens.choice()),
    });
  }
  return { plans, unavailable };
}

const METRICS = ['p50', 'p90', 'p99', 'p999'] as const;

export async function runAuthOverhead(options: AuthOverheadOptions): Promise<AuthOverheadResult> {
  const { plans, unavailable } = armPlans(options);
  const perArm = new Map<AuthOverheadArm, Measurement[]>(plans.map((plan) => [plan.arm, []]));
  for (let block = 0; block < options.blocks; block++) {
    // rotate the order, so that no arm always runs first (or right after another)
    const order = plans.map((_, i) => plans[(i + block) % plans.length] as ArmPlan);
    for (const plan of order) {
      const measurement = await measure(
        measurementPlan(options.settings, options.load, await plan.transport(), options.blockMs),
        options.onWindow,
      );
      perArm.get(plan.arm)?.push(measurement);
      options.onBlock?.(block, plan.arm, measurement);
    }
  }
  const results = plans.map((plan) => {
    const measurements = perArm.get(plan.arm) ?? [];
    const merged = RunRecorder.fromConsecutive(
      measurements.map((m) => m.recorder.snapshot()),
      Math.ceil(options.blockMs / options.settings.windowMs),
    );
    return pointResult(merged, measurements, {
      label: plan.arm,
      arm: plan.arm,
      transport: options.settings.transport,
      batchSize: options.batchSize,
      load: loadOf(options.load),
      durationMs: options.blockMs * options.blocks,
      workers: options.settings.workers,
      trials: options.blocks,
    });
  });
  return { results, deltas: armDeltas(perArm, options.blockMs), unavailableArms: unavailable };
}

/** Each arm against `direct`, block by block. */
export function armDeltas(perArm: Map<string, Measurement[]>, blockMs: number): Delta[] {
  const baseline = perArm.get('direct');
  if (!baseline) return [];
  const figures = (m: Measurement) => {
    const summary = summarize(m.recorder.fromIntended);
    return { ...summary, achievedRps: m.recorder.completed / (blockMs / 1000) };
  };
  const deltas: Delta[] = [];
  for (const [arm, measurements] of perArm) {
    if (arm === 'direct') continue;
    for (const metric of [...METRICS, 'achievedRps'] as const) {
      const differences = measurements.map(
        (m, block) => figures(m)[metric] - figures(baseline[block] as Measurement)[metric],
      );
      const { mean, ci95 } = meanDifferenceInterval(differences);
      deltas.push({ arm, baseline: 'direct', metric, delta: mean, ci95, blocks: differences.length });
    }
  }
  return deltas;
}
