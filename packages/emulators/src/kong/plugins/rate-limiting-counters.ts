import type { RateLimitWindow } from '@modelgate/policy';

// The rate-limiting plugin's local policy store (Kong's kong_rate_limiting_counters shared dict): counts per
// plugin scope, identifier, window and window start. Owned by the emulator, so it outlives a POST /config, as
// Kong's shared dict does.

export const RATE_LIMIT_WINDOWS: readonly RateLimitWindow[] = [
  'second',
  'minute',
  'hour',
  'day',
  'month',
  'year',
];

/** Seconds per window, as Kong's EXPIRATION table has them (a month is 30 days there). */
export const WINDOW_SECONDS: Readonly<Record<RateLimitWindow, number>> = {
  second: 1,
  minute: 60,
  hour: 3600,
  day: 86400,
  month: 2592000,
  year: 31536000,
};

/** Start of the window holding `now` (ms), aligned to the UTC calendar as kong/tools/timestamp.lua aligns it. */
export function windowStart(window: RateLimitWindow, now: number): number {
  // UTC has no leap seconds in epoch time: second to day align by arithmetic, month and year by the calendar
  switch (window) {
    case 'second':
    case 'minute':
    case 'hour':
    case 'day': {
      const length = WINDOW_SECONDS[window] * 1000;
      return Math.floor(now / length) * length;
    }
    case 'month': {
      const date = new Date(now);
      return Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1);
    }
    case 'year':
      return Date.UTC(new Date(now).getUTCFullYear(), 0, 1);
  }
}

/** Counters kept at most (Kong's kong_rate_limiting_counters dict is 12m and evicts the least recently set). */
export const DEFAULT_COUNTER_CAPACITY = 100_000;

/** What one set of counters is kept for: a plugin scope and an identifier (built once per request). */
export function counterKey(scope: string, identifier: string): string {
  return `${scope}\u0000${identifier}`;
}

const WINDOW_INDEX = Object.fromEntries(RATE_LIMIT_WINDOWS.map((window, i) => [window, i])) as Record<
  RateLimitWindow,
  number
>;

/**
 * Counts grouped by window and the time it ends: expired windows go as whole groups (no scan of the live
 * counters), and past `capacity` the counters of the window ending first go first, oldest first. Within a
 * group a counter is found by its key alone, one string per request whose hash V8 keeps, so a request with
 * several windows builds no key per window.
 */
export class RateLimitCounters {
  /**
   * Group id -> counter key -> count; few groups (one per live window). The id is the window's end (ms) * 8
   * plus the window's index, so it orders groups by end and gives the end back (`endOf`).
   */
  private readonly groups = new Map<number, Map<string, number>>();
  private total = 0;

  constructor(private readonly capacity = DEFAULT_COUNTER_CAPACITY) {}

  /** Counters held. */
  get size(): number {
    return this.total;
  }

  private static groupId(window: RateLimitWindow, start: number): number {
    return (start + WINDOW_SECONDS[window] * 1000) * 8 + WINDOW_INDEX[window];
  }

  private static endOf(groupId: number): number {
    return Math.floor(groupId / 8);
  }

  usage(key: string, window: RateLimitWindow, start: number): number {
    return this.groups.get(RateLimitCounters.groupId(window, start))?.get(key) ?? 0;
  }

  increment(key: string, window: RateLimitWindow, start: number, now: number): void {
    const id = RateLimitCounters.groupId(window, start);
    this.evictExpired(now);
    let group = this.groups.get(id);
    if (!group) {
      group = new Map();
      this.groups.set(id, group);
    }
    const count = group.get(key);
    if (count === undefined) this.total++;
    group.set(key, (count ?? 0) + 1);
    if (this.total > this.capacity) this.evictOldest();
  }

  private evictExpired(now: number): void {
    for (const [id, group] of this.groups) {
      if (RateLimitCounters.endOf(id) > now) continue;
      this.total -= group.size;
      this.groups.delete(id);
    }
  }

  private evictOldest(): void {
    let first: number | undefined;
    for (const id of this.groups.keys()) if (first === undefined || id < first) first = id;
    if (first === undefined) return;
    const group = this.groups.get(first) as Map<string, number>;
    const oldest = group.keys().next();
    if (!oldest.done) {
      group.delete(oldest.value);
      this.total--;
    }
    if (group.size === 0) this.groups.delete(first);
  }
}
