// When each request is meant to be sent. Every schedule is a pure function of its parameters (Poisson draws
// from a seeded stream), so that every worker, process or machine that runs it computes the same intended
// send times and can take its own share of them (every n-th arrival).

export type ArrivalSchedule =
  | { kind: 'constant'; rate: number }
  | { kind: 'poisson'; rate: number; seed?: number }
  /** Rates held for a duration each, one after another. */
  | { kind: 'step'; stages: { rate: number; durationMs: number }[] }
  /** A linear ramp from one rate to another over `durationMs`, then held at the last rate. */
  | { kind: 'ramp'; from: number; to: number; durationMs: number }
  /** Intended send times (ms from the start), as read from a trace file. */
  | { kind: 'trace'; offsetsMs: number[] };

/** A schedule that cannot be followed: a negative or non-finite rate, an unsorted trace. */
export class ScheduleError extends Error {
  override readonly name = 'ScheduleError';
}

/** Yields intended send times in ms from the start, ascending, then Infinity when the schedule ends. */
export interface ArrivalClock {
  next(): number;
}

function checkRate(rate: number, where: string): void {
  if (!Number.isFinite(rate) || rate < 0) throw new ScheduleError(`${where}: rate must be >= 0, got ${rate}`);
}

/** mulberry32: small, seeded, good enough for inter-arrival draws (not for anything secret). */
function seededUniform(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function constantClock(rate: number): ArrivalClock {
  const interval = 1000 / rate;
  let index = 0;
  return { next: () => (rate === 0 ? Infinity : index++ * interval) };
}

function poissonClock(rate: number, seed: number): ArrivalClock {
  const uniform = seededUniform(seed);
  let at = 0;
  return {
    next: () => {
      if (rate === 0) return Infinity;
      const current = at;
      at += (-Math.log(1 - uniform()) * 1000) / rate;
      return current;
    },
  };
}

function stepClock(stages: { rate: number; durationMs: number }[]): ArrivalClock {
  let stage = 0;
  let stageStart = 0;
  let inStage = 0;
  return {
    next: () => {
      while (stage < stages.length) {
        const { rate, durationMs } = stages[stage] as { rate: number; durationMs: number };
        const at = rate === 0 ? Infinity : (inStage * 1000) / rate;
        if (at < durationMs) {
          inStage++;
          return stageStart + at;
        }
        stage++;
        stageStart += durationMs;
        inStage = 0;
      }
      return Infinity;
    },
  };
}

/** The i-th arrival of a linear ramp solves from*t + (to-from)*t^2/(2D) = i (t in seconds). */
function rampClock(from: number, to: number, durationMs: number): ArrivalClock {
  const seconds = durationMs / 1000;
  const slope = (to - from) / seconds;
  const rampArrivals = ((from + to) / 2) * seconds;
  let index = 0;
  return {
    next: () => {
      const i = index++;
      if (i < rampArrivals) {
        const t = slope === 0 ? i / from : (-from + Math.sqrt(from * from + 2 * slope * i)) / slope;
        return t * 1000;
      }
      if (to === 0) return Infinity;
      return durationMs + ((i - rampArrivals) * 1000) / to;
    },
  };
}

function traceClock(offsetsMs: number[]): ArrivalClock {
  let index = 0;
  return { next: () => offsetsMs[index++] ?? Infinity };
}

export function arrivalClock(schedule: ArrivalSchedule): ArrivalClock {
  switch (schedule.kind) {
    case 'constant':
      checkRate(schedule.rate, 'constant');
      return constantClock(schedule.rate);
    case 'poisson':
      checkRate(schedule.rate, 'poisson');
      return poissonClock(schedule.rate, schedule.seed ?? 1);
    case 'step':
      schedule.stages.forEach((stage, i) => {
        checkRate(stage.rate, `step stage ${i}`);
      });
      return stepClock(schedule.stages);
    case 'ramp':
      checkRate(schedule.from, 'ramp from');
      checkRate(schedule.to, 'ramp to');
      if (schedule.from === 0 && schedule.to === 0) return { next: () => Infinity };
      return rampClock(schedule.from, schedule.to, schedule.durationMs);
    case 'trace':
      for (let i = 1; i < schedule.offsetsMs.length; i++) {
        if ((schedule.offsetsMs[i] as number) < (schedule.offsetsMs[i - 1] as number)) {
          throw new ScheduleError(`trace: offsets must ascend; line ${i + 1} goes back in time`);
        }
      }
      return traceClock(schedule.offsetsMs);
  }
}

/** Every `count`-th arrival starting at `share`: one worker's part of a schedule that several send. */
export function shareOf(clock: ArrivalClock, share: number, count: number): ArrivalClock {
  for (let i = 0; i < share; i++) clock.next();
  return {
    next: () => {
      const at = clock.next();
      for (let i = 1; i < count; i++) clock.next();
      return at;
    },
  };
}

/** A trace file: one intended send time in ms per line (blank lines and `#` comments skipped). */
export function parseTrace(text: string, source: string): ArrivalSchedule {
  const offsetsMs: number[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const value = Number(line);
    if (!Number.isFinite(value) || value < 0) {
      throw new ScheduleError(
        `${source}:${i + 1}: expected a send time in ms >= 0, got ${JSON.stringify(line)}`,
      );
    }
    offsetsMs.push(value);
  });
  return { kind: 'trace', offsetsMs };
}

/** The rate a schedule asks for at `atMs` (for reports and for sizing). */
export function scheduledRate(schedule: ArrivalSchedule, atMs: number): number {
  switch (schedule.kind) {
    case 'constant':
    case 'poisson':
      return schedule.rate;
    case 'step': {
      let start = 0;
      for (const stage of schedule.stages) {
        if (atMs < start + stage.durationMs) return stage.rate;
        start += stage.durationMs;
      }
      return 0;
    }
    case 'ramp':
      return atMs >= schedule.durationMs
        ? schedule.to
        : schedule.from + ((schedule.to - schedule.from) * atMs) / schedule.durationMs;
    case 'trace':
      return NaN;
  }
}
