import { Worker } from 'node:worker_threads';
import { senderFor } from '../transport/sender.js';
import type { TransportSpec } from '../transport/transport-spec.js';
import { type GeneratorHealth, GeneratorMonitor, generatorLimitReasons } from './generator-monitor.js';
import { type LoadModel, runLoad } from './load-engine.js';
import { type RecorderSnapshot, RunRecorder } from './run-recorder.js';

// One measurement: a load model against a transport for a duration, in this thread or split over worker
// threads (each sends every n-th arrival of the same schedule, or its part of the concurrency), their
// histograms merged exactly. The generator's own health decides whether the figure may be the server's.

export interface MeasurementPlan {
  model: LoadModel;
  transport: TransportSpec;
  warmupMs: number;
  durationMs: number;
  windowMs: number;
  lateThresholdMs: number;
  /** Worker threads; 1 sends from this thread. */
  workers: number;
}

export interface Measurement {
  recorder: RunRecorder;
  health: GeneratorHealth;
  generatorLimited: boolean;
  generatorLimitReasons: string[];
  startedAt: string;
  endedAt: string;
}

export interface WorkerResult {
  snapshot: RecorderSnapshot;
  health: GeneratorHealth;
}

/** The part of a plan worker `share` of `shares` runs. */
export function workerPart(model: LoadModel, share: number, shares: number): LoadModel {
  if (model.kind === 'open') {
    return { ...model, maxInFlight: Math.max(1, Math.ceil(model.maxInFlight / shares)) };
  }
  const base = Math.floor(model.concurrency / shares);
  return { kind: 'closed', concurrency: base + (share < model.concurrency % shares ? 1 : 0) };
}

/** Runs a plan's share in the calling thread (what a worker thread runs). */
/** Live progress of a measurement sent from this thread (worker threads report only at their end). */
export type WindowProgress = (recorder: RunRecorder, elapsedMs: number) => void;

export async function runShare(
  plan: MeasurementPlan,
  share: number,
  shares: number,
  onWindow?: WindowProgress,
): Promise<WorkerResult> {
  const sender = senderFor(plan.transport);
  const monitor = new GeneratorMonitor().start();
  try {
    const recorder = await runLoad({
      model: workerPart(plan.model, share, shares),
      durationMs: plan.warmupMs + plan.durationMs,
      warmupMs: plan.warmupMs,
      windowMs: plan.windowMs,
      lateThresholdMs: plan.lateThresholdMs,
      send: sender.send,
      share,
      shares,
      ...(onWindow ? { onWindow } : {}),
    });
    return { snapshot: recorder.snapshot(), health: monitor.stop() };
  } finally {
    await sender.close();
  }
}

const WORKER_URL = new URL(
  import.meta.url.endsWith('.ts') ? './measurement-worker.ts' : './measurement-worker.js',
  import.meta.url,
);

function runInWorker(plan: MeasurementPlan, share: number, shares: number): Promise<WorkerResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_URL, {
      workerData: { plan, share, shares },
      // under Vitest or tsx the sources are TypeScript: load them the same way in the worker
      execArgv: WORKER_URL.pathname.endsWith('.ts') ? ['--import', 'tsx'] : [],
    });
    worker.once('message', (result: WorkerResult) => resolve(result));
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`load worker ${share} exited with code ${code}`));
    });
  });
}

const maxOf = (values: number[]) => values.reduce((a, b) => Math.max(a, b), 0);

export async function measure(plan: MeasurementPlan, onWindow?: WindowProgress): Promise<Measurement> {
  const startedAt = new Date();
  const monitor = new GeneratorMonitor().start();
  const results =
    plan.workers <= 1
      ? [await runShare(plan, 0, 1, onWindow)]
      : await Promise.all(
          Array.from({ length: plan.workers }, (_, share) => runInWorker(plan, share, plan.workers)),
        );
  const own = monitor.stop();
  const endedAt = new Date();
  const recorder = RunRecorder.fromSnapshots(results.map((result) => result.snapshot));
  const health: GeneratorHealth = {
    cpuShare: own.cpuShare,
    eventLoopLagMs: {
      p50: maxOf(results.map((r) => r.health.eventLoopLagMs.p50)),
      p99: maxOf(results.map((r) => r.health.eventLoopLagMs.p99)),
      max: maxOf(results.map((r) => r.health.eventLoopLagMs.max)),
    },
  };
  const reasons = generatorLimitReasons(health, {
    sent: recorder.sent,
    late: recorder.lateSends,
    threads: Math.max(1, plan.workers),
  });
  return {
    recorder,
    health,
    generatorLimited: reasons.length > 0,
    generatorLimitReasons: reasons,
    startedAt: startedAt.toISOString(),
    endedAt: endedAt.toISOString(),
  };
}
