import { describe, expect, it } from 'vitest';
import { counterKey, RateLimitCounters, windowStart } from './rate-limiting-counters.js';

// The local policy's counters: bounded, whatever the number of identifiers, and expired windows dropped.

const NOW = Date.UTC(2027, 0, 15, 10, 30, 20, 250);

describe('rate-limiting counters', () => {
  it('counts per scope, identifier and window start', () => {
    expect(counterKey('a', 'b:c')).not.toBe(counterKey('a:b', 'c'));
    const counters = new RateLimitCounters();
    const start = windowStart('minute', NOW);
    counters.increment(counterKey('route:r', 'alice'), 'minute', start, NOW);
    counters.increment(counterKey('route:r', 'alice'), 'minute', start, NOW);
    counters.increment(counterKey('route:r', 'bob'), 'minute', start, NOW);
    expect(counters.usage(counterKey('route:r', 'alice'), 'minute', start)).toBe(2);
    expect(counters.usage(counterKey('route:r', 'bob'), 'minute', start)).toBe(1);
    expect(counters.usage(counterKey('route:r', 'alice'), 'minute', start + 60_000)).toBe(0);
  });

  it('keeps a second and a minute that end at the same instant apart', () => {
    const counters = new RateLimitCounters();
    const last = Date.UTC(2027, 0, 15, 10, 30, 59, 500);
    const key = counterKey('global', 'alice');
    counters.increment(key, 'second', windowStart('second', last), last);
    counters.increment(key, 'minute', windowStart('minute', last), last);
    counters.increment(key, 'minute', windowStart('minute', last), last);
    expect(counters.usage(key, 'second', windowStart('second', last))).toBe(1);
    expect(counters.usage(key, 'minute', windowStart('minute', last))).toBe(2);
  });

  it('drops the counters of ended windows as soon as the next count comes', () => {
    const counters = new RateLimitCounters();
    const start = windowStart('second', NOW);
    for (let i = 0; i < 20_000; i++)
      counters.increment(counterKey('global', `ip-${i}`), 'second', start, NOW);
    expect(counters.size).toBe(20_000);
    const later = NOW + 1000;
    counters.increment(counterKey('global', 'ip-0'), 'second', windowStart('second', later), later);
    expect(counters.size).toBe(1);
  });

  it('never holds more than its capacity: the window ending first loses its oldest counters', () => {
    const counters = new RateLimitCounters(1000);
    const year = windowStart('year', NOW);
    const minute = windowStart('minute', NOW);
    for (let i = 0; i < 800; i++) counters.increment(counterKey('global', `year-${i}`), 'year', year, NOW);
    for (let i = 0; i < 800; i++)
      counters.increment(counterKey('global', `minute-${i}`), 'minute', minute, NOW);
    expect(counters.size).toBe(1000);
    expect(counters.usage(counterKey('global', 'year-0'), 'year', year)).toBe(1);
    expect(counters.usage(counterKey('global', 'minute-0'), 'minute', minute)).toBe(0);
    expect(counters.usage(counterKey('global', 'minute-799'), 'minute', minute)).toBe(1);
  });

  it('counts into a window made anew after its group was dropped, not into the dropped one', () => {
    const counters = new RateLimitCounters(1);
    const second = windowStart('second', NOW);
    const minute = windowStart('minute', NOW);
    const [a, b, c] = ['a', 'b', 'c'].map((name) => counterKey('global', name)) as [string, string, string];
    counters.increment(a, 'second', second, NOW);
    // past capacity: the second's group ends first, loses a and goes
    counters.increment(b, 'minute', minute, NOW);
    expect(counters.usage(a, 'second', second)).toBe(0);
    // the second's group again: past capacity once more, it is again the one to lose its oldest
    counters.increment(c, 'second', second, NOW);
    expect(counters.size).toBe(1);
    expect(counters.usage(c, 'second', second)).toBe(0);
    expect(counters.usage(b, 'minute', minute)).toBe(1);
  });
});
