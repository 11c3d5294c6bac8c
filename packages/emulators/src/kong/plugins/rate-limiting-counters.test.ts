import { describe, expect, it } from 'vitest';
import { RateLimitCounters, windowStart } from './rate-limiting-counters.js';

// The local policy's counters: bounded, whatever the number of identifiers, and expired windows dropped.

const NOW = Date.UTC(2027, 0, 15, 10, 30, 20, 250);

describe('rate-limiting counters', () => {
  it('counts per scope, identifier and window start', () => {
    const counters = new RateLimitCounters();
    const start = windowStart('minute', NOW);
    counters.increment('route:r', 'alice', 'minute', start, NOW);
    counters.increment('route:r', 'alice', 'minute', start, NOW);
    counters.increment('route:r', 'bob', 'minute', start, NOW);
    expect(counters.usage('route:r', 'alice', 'minute', start)).toBe(2);
    expect(counters.usage('route:r', 'bob', 'minute', start)).toBe(1);
    expect(counters.usage('route:r', 'alice', 'minute', start + 60_000)).toBe(0);
  });

  it('drops the counters of ended windows as soon as the next count comes', () => {
    const counters = new RateLimitCounters();
    const start = windowStart('second', NOW);
    for (let i = 0; i < 20_000; i++) counters.increment('global', `ip-${i}`, 'second', start, NOW);
    expect(counters.size).toBe(20_000);
    const later = NOW + 1000;
    counters.increment('global', 'ip-0', 'second', windowStart('second', later), later);
    expect(counters.size).toBe(1);
  });

  it('never holds more than its capacity: the window ending first loses its oldest counters', () => {
    const counters = new RateLimitCounters(1000);
    const year = windowStart('year', NOW);
    const minute = windowStart('minute', NOW);
    for (let i = 0; i < 800; i++) counters.increment('global', `year-${i}`, 'year', year, NOW);
    for (let i = 0; i < 800; i++) counters.increment('global', `minute-${i}`, 'minute', minute, NOW);
    expect(counters.size).toBe(1000);
    expect(counters.usage('global', 'year-0', 'year', year)).toBe(1);
    expect(counters.usage('global', 'minute-0', 'minute', minute)).toBe(0);
    expect(counters.usage('global', 'minute-799', 'minute', minute)).toBe(1);
  });
});
