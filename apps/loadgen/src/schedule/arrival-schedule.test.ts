import { describe, expect, it } from 'vitest';
import {
  type ArrivalSchedule,
  arrivalClock,
  parseTrace,
  ScheduleError,
  shareOf,
} from './arrival-schedule.js';

function take(schedule: ArrivalSchedule, count: number): number[] {
  const clock = arrivalClock(schedule);
  return Array.from({ length: count }, () => clock.next());
}

describe('arrival schedules', () => {
  it('spaces a constant rate evenly from time 0', () => {
    expect(take({ kind: 'constant', rate: 4 }, 4)).toEqual([0, 250, 500, 750]);
  });

  it('draws Poisson arrivals with the asked mean rate, the same for the same seed', () => {
    const times = take({ kind: 'poisson', rate: 1000, seed: 7 }, 20_000);
    const rate = (times.length - 1) / ((times.at(-1) as number) / 1000);
    expect(rate).toBeGreaterThan(970);
    expect(rate).toBeLessThan(1030);
    expect(take({ kind: 'poisson', rate: 1000, seed: 7 }, 5)).toEqual(times.slice(0, 5));
  });

  it('holds each step for its duration, then ends', () => {
    const schedule: ArrivalSchedule = {
      kind: 'step',
      stages: [
        { rate: 2, durationMs: 1000 },
        { rate: 4, durationMs: 500 },
      ],
    };
    expect(take(schedule, 5)).toEqual([0, 500, 1000, 1250, Infinity]);
  });

  it('ramps linearly: the arrivals in each second match the rate integrated over it', () => {
    const clock = arrivalClock({ kind: 'ramp', from: 0, to: 100, durationMs: 2000 });
    const times: number[] = [];
    for (let at = clock.next(); at < 2000; at = clock.next()) times.push(at);
    // integral of 50 t dt over [0,1] = 25, over [1,2] = 75
    expect(times.filter((t) => t < 1000)).toHaveLength(25);
    expect(times.filter((t) => t >= 1000)).toHaveLength(75);
  });

  it('replays a trace file and refuses one that goes back in time, naming the line', () => {
    expect(take(parseTrace('# ms\n0\n5\n\n12.5\n', 'trace.txt'), 4)).toEqual([0, 5, 12.5, Infinity]);
    expect(() => parseTrace('0\nabc\n', 'trace.txt')).toThrow('trace.txt:2: expected a send time in ms');
    expect(() => take(parseTrace('0\n10\n5\n', 't'), 1)).toThrow(ScheduleError);
  });

  it('splits a schedule between senders without losing or repeating an arrival', () => {
    const all = take({ kind: 'poisson', rate: 100, seed: 3 }, 30);
    const parts = [0, 1, 2].map((share) => {
      const clock = shareOf(arrivalClock({ kind: 'poisson', rate: 100, seed: 3 }), share, 3);
      return Array.from({ length: 10 }, () => clock.next());
    });
    expect(parts.flat().sort((a, b) => a - b)).toEqual(all);
  });
});
