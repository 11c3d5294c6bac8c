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
  const date = new Date(now);
  const [y, m, d, h, min] = [
    date.getUTCFullYear(),
    date.getUTCMonth(),
    date.getUTCDate(),
    date.getUTCHours(),
    date.getUTCMinutes(),
  ];
  switch (window) {
    case 'second':
      return Math.floor(now / 1000) * 1000;
    case 'minute':
      return Date.UTC(y, m, d, h, min);
    case 'hour':
      return Date.UTC(y, m, d, h);
    case 'day':
      return Date.UTC(y, m, d);
    case 'month':
      return Date.UTC(y, m, 1);
    case 'year':
      return Date.UTC(y, 0, 1);
  }
}

export class RateLimitCounters {
  private readonly counts = new Map<string, { count: number; expiresAt: number }>();

  private key(scope: string, identifier: string, window: RateLimitWindow, start: number): string {
    return `${scope}:${identifier}:${start}:${window}`;
  }

  usage(scope: string, identifier: string, window: RateLimitWindow, start: number): number {
    return this.counts.get(this.key(scope, identifier, window, start))?.count ?? 0;
  }

  increment(scope: string, identifier: string, window: RateLimitWindow, start: number, now: number): void {
    const key = this.key(scope, identifier, window, start);
    const entry = this.counts.get(key);
    if (entry) entry.count++;
    else this.counts.set(key, { count: 1, expiresAt: start + WINDOW_SECONDS[window] * 1000 });
    this.evict(now);
  }

  private evict(now: number): void {
    if (this.counts.size < 10_000) return;
    for (const [key, entry] of this.counts) if (entry.expiresAt <= now) this.counts.delete(key);
  }
}
