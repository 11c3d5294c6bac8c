import {
  createLatencyHistogram,
  decodeHistogram,
  encodeHistogram,
  type LatencyHistogram,
  recordMs,
} from './latency-histogram.js';
import type { RequestOutcome } from './request-outcome.js';

// Everything one sender (a thread, a process, a machine) observed in a run, in a form that merges exactly:
// histograms of latency from the intended send time and from the actual send, of lateness, counters, and a
// time series of windows keyed by intended send time, each with its own histogram.

export interface RecorderOptions {
  /** Requests intended before this (ms from the start) are sent but not recorded. */
  warmupMs: number;
  /** Length of one window of the time series (and of the stability check). */
  windowMs: number;
  /** A send later than this after its intended time counts as late. */
  lateThresholdMs: number;
}

interface Window {
  requests: number;
  errors: number;
  histogram: LatencyHistogram;
}

/** The serializable form: what a worker posts back, what a file from another machine holds. */
export interface RecorderSnapshot {
  options: RecorderOptions;
  sent: number;
  completed: number;
  ok: number;
  warmupRequests: number;
  lateSends: number;
  droppedSends: number;
  errors: Record<string, number>;
  expectedRefusals: Record<string, number>;
  fromIntended: string;
  fromSend: string;
  lateness: string;
  kongProxy: string;
  kongUpstream: string;
  windows: { index: number; requests: number; errors: number; histogram: string }[];
}

export class RunRecorder {
  sent = 0;
  completed = 0;
  ok = 0;
  warmupRequests = 0;
  lateSends = 0;
  droppedSends = 0;
  readonly errors = new Map<string, number>();
  readonly expectedRefusals = new Map<string, number>();
  readonly fromIntended = createLatencyHistogram();
  readonly fromSend = createLatencyHistogram();
  readonly lateness = createLatencyHistogram();
  /** Kong's own latency headers, where the gateway sent them. */
  readonly kongProxy = createLatencyHistogram();
  readonly kongUpstream = createLatencyHistogram();
  readonly windows = new Map<number, Window>();

  constructor(readonly options: RecorderOptions) {}

  /** A send that happened, `latenessMs` after its intended time. */
  recordSend(intendedMs: number, latenessMs: number): void {
    this.sent++;
    if (intendedMs < this.options.warmupMs) return;
    recordMs(this.lateness, latenessMs);
    if (latenessMs > this.options.lateThresholdMs) this.lateSends++;
  }

  /** A send the schedule asked for but the generator could not make (in-flight limit reached). */
  recordDrop(intendedMs: number): void {
    if (intendedMs >= this.options.warmupMs) this.droppedSends++;
  }

  recordCompletion(
    intendedMs: number,
    fromIntendedMs: number,
    fromSendMs: number,
    outcome: RequestOutcome,
  ): void {
    if (intendedMs < this.options.warmupMs) {
      this.warmupRequests++;
      return;
    }
    this.completed++;
    const window = this.windowAt(intendedMs);
    window.requests++;
    if (outcome.ok) {
      this.ok++;
      if (outcome.kong) {
        if (outcome.kong.proxyMs !== undefined) recordMs(this.kongProxy, outcome.kong.proxyMs);
        if (outcome.kong.upstreamMs !== undefined) recordMs(this.kongUpstream, outcome.kong.upstreamMs);
      }
    } else {
      const counts = outcome.expected ? this.expectedRefusals : this.errors;
      counts.set(outcome.kind, (counts.get(outcome.kind) ?? 0) + 1);
      if (!outcome.expected) {
        window.errors++;
        return;
      }
    }
    recordMs(this.fromIntended, fromIntendedMs);
    recordMs(this.fromSend, fromSendMs);
    recordMs(window.histogram, fromIntendedMs);
  }

  private windowAt(intendedMs: number): Window {
    const index = Math.floor((intendedMs - this.options.warmupMs) / this.options.windowMs);
    let window = this.windows.get(index);
    if (!window) {
      window = { requests: 0, errors: 0, histogram: createLatencyHistogram() };
      this.windows.set(index, window);
    }
    return window;
  }

  snapshot(): RecorderSnapshot {
    return {
      options: this.options,
      sent: this.sent,
      completed: this.completed,
      ok: this.ok,
      warmupRequests: this.warmupRequests,
      lateSends: this.lateSends,
      droppedSends: this.droppedSends,
      errors: Object.fromEntries(this.errors),
      expectedRefusals: Object.fromEntries(this.expectedRefusals),
      fromIntended: encodeHistogram(this.fromIntended),
      fromSend: encodeHistogram(this.fromSend),
      lateness: encodeHistogram(this.lateness),
      kongProxy: encodeHistogram(this.kongProxy),
      kongUpstream: encodeHistogram(this.kongUpstream),
      windows: [...this.windows.entries()]
        .sort(([a], [b]) => a - b)
        .map(([index, window]) => ({
          index,
          requests: window.requests,
          errors: window.errors,
          histogram: encodeHistogram(window.histogram),
        })),
    };
  }

  /**
   * Adds another recorder's snapshot into this one, exactly (counts summed, histograms added). Snapshots of
   * the same time span (workers, machines) merge window by window; `windowOffset` places a later span (the
   * next block of an A/B) after this one's windows instead.
   */
  merge(snapshot: RecorderSnapshot, windowOffset = 0): this {
    this.sent += snapshot.sent;
    this.completed += snapshot.completed;
    this.ok += snapshot.ok;
    this.warmupRequests += snapshot.warmupRequests;
    this.lateSends += snapshot.lateSends;
    this.droppedSends += snapshot.droppedSends;
    for (const [kind, count] of Object.entries(snapshot.errors)) {
      this.errors.set(kind, (this.errors.get(kind) ?? 0) + count);
    }
    for (const [kind, count] of Object.entries(snapshot.expectedRefusals)) {
      this.expectedRefusals.set(kind, (this.expectedRefusals.get(kind) ?? 0) + count);
    }
    this.fromIntended.add(decodeHistogram(snapshot.fromIntended));
    this.fromSend.add(decodeHistogram(snapshot.fromSend));
    this.lateness.add(decodeHistogram(snapshot.lateness));
    this.kongProxy.add(decodeHistogram(snapshot.kongProxy));
    this.kongUpstream.add(decodeHistogram(snapshot.kongUpstream));
    for (const part of snapshot.windows) {
      const index = part.index + windowOffset;
      const window = this.windows.get(index) ?? {
        requests: 0,
        errors: 0,
        histogram: createLatencyHistogram(),
      };
      window.requests += part.requests;
      window.errors += part.errors;
      window.histogram.add(decodeHistogram(part.histogram));
      this.windows.set(index, window);
    }
    return this;
  }

  static fromSnapshots(snapshots: RecorderSnapshot[]): RunRecorder {
    const first = snapshots[0];
    if (!first) throw new Error('no recorder snapshots to merge');
    const merged = new RunRecorder(first.options);
    for (const snapshot of snapshots) merged.merge(snapshot);
    return merged;
  }

  /** Spans measured one after another (blocks), their windows laid end to end. */
  static fromConsecutive(snapshots: RecorderSnapshot[], windowsPerSpan: number): RunRecorder {
    const first = snapshots[0];
    if (!first) throw new Error('no recorder snapshots to merge');
    const merged = new RunRecorder(first.options);
    snapshots.forEach((snapshot, i) => {
      merged.merge(snapshot, i * windowsPerSpan);
    });
    return merged;
  }
}
