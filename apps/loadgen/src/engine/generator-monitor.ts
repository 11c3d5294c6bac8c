import { monitorEventLoopDelay } from 'node:perf_hooks';

// The generator watches itself: its CPU time against wall time, and how late the event loop runs timers.
// A run where the generator was the limit is marked, with the reasons, so that its figure is never reported
// as the server's.

export interface GeneratorHealth {
  /** CPU time of this process over wall time (1 = one core busy); with worker threads it can pass 1. */
  cpuShare: number;
  eventLoopLagMs: { p50: number; p99: number; max: number };
}

export interface GeneratorLimits {
  /** Above this share of one core per sending thread, named beside a direct sign of a limit. */
  maxCpuShare: number;
  maxEventLoopLagP99Ms: number;
  /** Above this share of late sends (of all sends), the schedule was not kept. */
  maxLateShare: number;
}

export const DEFAULT_GENERATOR_LIMITS: GeneratorLimits = {
  maxCpuShare: 0.9,
  maxEventLoopLagP99Ms: 20,
  maxLateShare: 0.05,
};

export class GeneratorMonitor {
  private readonly delay = monitorEventLoopDelay({ resolution: 5 });
  private cpuStart = process.cpuUsage();
  private wallStart = performance.now();

  start(): this {
    this.cpuStart = process.cpuUsage();
    this.wallStart = performance.now();
    this.delay.enable();
    return this;
  }

  stop(): GeneratorHealth {
    this.delay.disable();
    const cpu = process.cpuUsage(this.cpuStart);
    const wallMs = Math.max(1, performance.now() - this.wallStart);
    const ms = (ns: number) => Math.round(ns / 1e3) / 1e3;
    return {
      cpuShare: Math.round(((cpu.user + cpu.system) / 1000 / wallMs) * 1000) / 1000,
      eventLoopLagMs: {
        p50: ms(this.delay.percentile(50)),
        p99: ms(this.delay.percentile(99)),
        max: ms(this.delay.max),
      },
    };
  }
}

/**
 * Why the generator, not the server, may have set the figure; empty when it kept up. Lateness and event-loop
 * lag are the direct signs; CPU alone is not one (the send loop spins for the last moments before a send
 * at high rates, which costs CPU but keeps time), so it is named only beside a direct sign.
 */
export function generatorLimitReasons(
  health: GeneratorHealth,
  sends: { sent: number; late: number; threads: number },
  limits: GeneratorLimits = DEFAULT_GENERATOR_LIMITS,
): string[] {
  const reasons: string[] = [];
  if (health.eventLoopLagMs.p99 > limits.maxEventLoopLagP99Ms) {
    reasons.push(`event-loop lag p99 ${health.eventLoopLagMs.p99} ms`);
  }
  if (sends.sent > 0 && sends.late / sends.sent > limits.maxLateShare) {
    reasons.push(`${((sends.late / sends.sent) * 100).toFixed(1)}% of sends late`);
  }
  if (reasons.length > 0 && health.cpuShare > limits.maxCpuShare * sends.threads) {
    reasons.push(`generator CPU ${(health.cpuShare * 100).toFixed(0)}% of ${sends.threads} core(s)`);
  }
  return reasons;
}
