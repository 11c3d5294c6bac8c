import {
  type ArrivalClock,
  type ArrivalSchedule,
  arrivalClock,
  shareOf,
} from '../schedule/arrival-schedule.js';
import { failure, type SendRequest } from './request-outcome.js';
import { type RecorderOptions, RunRecorder } from './run-recorder.js';

// The send loop. Open loop: each request has an intended send time from the schedule; the loop sends it then
// (or as soon after as it can), whatever the server is doing, and a request that would pass the in-flight
// limit is dropped and counted. Closed loop: `concurrency` users, each sending its next request the moment its
// previous one completes, so the intended time is that moment. Latency is recorded from both the intended
// time and the actual send.

export type LoadModel =
  | { kind: 'open'; schedule: ArrivalSchedule; maxInFlight: number }
  | { kind: 'closed'; concurrency: number };

export interface RunOptions extends RecorderOptions {
  model: LoadModel;
  /** Sending stops at this many ms from the start (warm-up included). */
  durationMs: number;
  send: SendRequest;
  /** This sender's share of the schedule: it sends arrivals `share`, `share + shares`, ... */
  share?: number;
  shares?: number;
  signal?: AbortSignal;
  /** Called about every window with the recorder so far (live progress). */
  onWindow?: (recorder: RunRecorder, elapsedMs: number) => void;
}

const toKind = (error: unknown) => failure(`exception:${(error as Error)?.name ?? 'unknown'}`);

async function runOpen(
  options: RunOptions,
  model: Extract<LoadModel, { kind: 'open' }>,
  recorder: RunRecorder,
): Promise<void> {
  const clock: ArrivalClock = shareOf(arrivalClock(model.schedule), options.share ?? 0, options.shares ?? 1);
  const start = performance.now();
  let index = (options.share ?? 0) - (options.shares ?? 1);
  let inFlight = 0;
  let next = clock.next();
  let lastWindow = 0;
  const pending = new Set<Promise<void>>();

  const fire = (intended: number, sendIndex: number) => {
    const sentAt = performance.now() - start;
    recorder.recordSend(intended, sentAt - intended);
    inFlight++;
    const request = options
      .send(sendIndex)
      .catch(toKind)
      .then((outcome) => {
        const doneAt = performance.now() - start;
        inFlight--;
        recorder.recordCompletion(intended, doneAt - intended, doneAt - sentAt, outcome);
        pending.delete(request);
      });
    pending.add(request);
  };

  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now() - start;
      while (next <= now && next < options.durationMs) {
        index += options.shares ?? 1;
        if (inFlight >= model.maxInFlight) recorder.recordDrop(next);
        else fire(next, index);
        next = clock.next();
      }
      if (options.onWindow && now - lastWindow >= options.windowMs) {
        lastWindow = now;
        options.onWindow(recorder, now);
      }
      if (next >= options.durationMs || options.signal?.aborted) {
        resolve();
        return;
      }
      const wait = next - (performance.now() - start);
      // Node's timers have millisecond resolution and fire on time or up to about 1 ms late: sleep until a
      // millisecond before the send, then yield to I/O and check again for the last stretch. Spinning longer
      // would keep a core busy that the target or other workers may need.
      if (wait >= 1) setTimeout(tick, Math.max(0, wait - 1));
      else setImmediate(tick);
    };
    tick();
  });
  await Promise.all(pending);
}

async function runClosed(
  options: RunOptions,
  model: Extract<LoadModel, { kind: 'closed' }>,
  recorder: RunRecorder,
): Promise<void> {
  const start = performance.now();
  let index = 0;
  let lastWindow = 0;
  const user = async () => {
    let intended = performance.now() - start;
    while (intended < options.durationMs && !options.signal?.aborted) {
      const sentAt = performance.now() - start;
      recorder.recordSend(intended, sentAt - intended);
      const outcome = await options.send(index++).catch(toKind);
      const doneAt = performance.now() - start;
      recorder.recordCompletion(intended, doneAt - intended, doneAt - sentAt, outcome);
      if (options.onWindow && doneAt - lastWindow >= options.windowMs) {
        lastWindow = doneAt;
        options.onWindow(recorder, doneAt);
      }
      intended = doneAt;
    }
  };
  await Promise.all(Array.from({ length: model.concurrency }, user));
}

/** Runs one measurement in this thread and returns what it recorded. */
export async function runLoad(options: RunOptions): Promise<RunRecorder> {
  const recorder = new RunRecorder({
    warmupMs: options.warmupMs,
    windowMs: options.windowMs,
    lateThresholdMs: options.lateThresholdMs,
  });
  if (options.model.kind === 'open') await runOpen(options, options.model, recorder);
  else await runClosed(options, options.model, recorder);
  return recorder;
}
