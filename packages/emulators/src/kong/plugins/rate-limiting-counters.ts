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

/**
 * Counts grouped by the time their window ends: expired windows go as whole groups (no scan of the live
 * counters), and past `capacity` the counters of the window ending first go first, oldest first.
 */
export class RateLimitCounters {
  /** Window end (ms) -> counter key -> count; groups in no particular order, few (one per live window). */
  private readonly groups = new Map<number, Map<string, number>>();
  private total = 0;

  constructor(private readonly capacity = DEFAULT_COUNTER_CAPACITY) {}

  /** Counters held. */
  get size(): number {
    return this.total;
  }

  private key(scope: string, identifier: string, window: RateLimitWindow, start: number): string {
    return `${scope}:${identifier}:${start}:${window}`;
  }

  usage(scope: string, identifier: string, window: RateLimitWindow, start: number): number {
    const group = this.groups.get(start + WINDOW_SECONDS[window] * 1000);
    return group?.get(this.key(scope, identifier, window, start)) ?? 0;
  }

  increment(scope: string, identifier: string, window: RateLimitWindow, start: number, now: number): void {
    const expiresAt = start + WINDOW_SECONDS[window] * 1000;
    this.evictExpired(now);
    let group = this.groups.get(expiresAt);
    if (!group) {
      group = new Map();
      this.groups.set(expiresAt, group);
    }
    const key = this.key(scope, identifier, window, start);
    const count = group.get(key);
    if (count === undefined) this.total++;
    group.set(key, (count ?? 0) + 1);
    if (this.total > this.capacity) this.evictOldest();
  }

  private evictExpired(now: number): void {
    for (const [expiresAt, group] of this.groups) {
      if (expiresAt > now) continue;
      this.total -= group.size;
      this.groups.delete(expiresAt);
    }
  }

  private evictOldest(): void {
    let first: [number, Map<string, number>] | undefined;
    for (const entry of this.groups) if (!first || entry[0] < first[0]) first = entry;
    if (!first) return;
    const [expiresAt, group] = first;
    const oldest = group.keys().next();
    if (!oldest.done) {
      group.delete(oldest.value);
      this.total--;
    }
    if (group.size === 0) this.groups.delete(expiresAt);
  }
}
