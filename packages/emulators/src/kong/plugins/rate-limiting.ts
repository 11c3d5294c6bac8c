import type { KongRateLimitingConfig, RateLimitWindow } from '@modelgate/policy';
import type { KongClock } from '../kong-clock.js';
import type { KongPluginHandler } from '../kong-plugin.js';
import { firstHeader, type KongRequestContext, kongExitError } from '../kong-request.js';
import {
  RATE_LIMIT_WINDOWS,
  type RateLimitCounters,
  WINDOW_SECONDS,
  windowStart,
} from './rate-limiting-counters.js';

// The rate-limiting plugin (kong/plugins/rate-limiting/handler.lua at 3.9.3, priority 910), local policy: per
// configured window the limit and what remains (this request counted), the most restrictive window's
// RateLimit-* headers, and a refusal with Retry-After when a window is used up.

const EMPTY_UUID = '00000000-0000-0000-0000-000000000000';

/** X-RateLimit-Limit-<Window> and X-RateLimit-Remaining-<Window>, named once. */
const WINDOW_HEADERS = Object.fromEntries(
  RATE_LIMIT_WINDOWS.map((window) => {
    const name = `${window[0]?.toUpperCase()}${window.slice(1)}`;
    return [window, { limit: `X-RateLimit-Limit-${name}`, remaining: `X-RateLimit-Remaining-${name}` }];
  }),
) as Record<RateLimitWindow, { limit: string; remaining: string }>;

/** The rate-limited identity, as Kong's get_identifier falls back to the client ip. */
function identifier(context: KongRequestContext, config: KongRateLimitingConfig): string {
  const ip = context.request.clientIp;
  switch (config.limit_by) {
    case 'consumer':
      return context.consumer?.id ?? context.credential?.id ?? ip;
    case 'credential':
      return context.credential?.id ?? ip;
    case 'service':
      return context.service.id ?? ip;
    case 'header':
      return (
        (config.header_name && firstHeader(context.request.headers, config.header_name.toLowerCase())) || ip
      );
    case 'path':
      return config.path !== null && context.request.path === config.path ? config.path : ip;
    default:
      return ip;
  }
}

export function rateLimitingPlugin(
  clock: KongClock,
  counters: RateLimitCounters,
): KongPluginHandler<KongRateLimitingConfig> {
  return {
    name: 'rate-limiting',
    priority: 910,
    access(context, config, plugin) {
      const now = clock.now();
      // Kong keys the counters by the plugin's route and service ids (the empty uuid when not scoped so)
      const scope = `${plugin.route?.id ?? EMPTY_UUID}:${plugin.service?.id ?? EMPTY_UUID}`;
      const id = identifier(context, config);
      const windows = RATE_LIMIT_WINDOWS.filter(
        (window) => config[window] !== null && config[window] !== undefined,
      );
      const usage = windows.map((window) => {
        const start = windowStart(window, now);
        const limit = config[window] as number;
        return { window, start, limit, remaining: limit - counters.usage(scope, id, window, start) };
      });
      const stop = usage.find((entry) => entry.remaining <= 0)?.window;

      const headers: Record<string, string> = {};
      let best: { limit: number; remaining: number; seconds: number; reset: number } | undefined;
      for (const entry of usage) {
        const remaining = Math.max(
          0,
          stop === undefined || stop === entry.window ? entry.remaining - 1 : entry.remaining,
        );
        const seconds = WINDOW_SECONDS[entry.window];
        if (!best || remaining < best.remaining || (remaining === best.remaining && seconds > best.seconds)) {
          const reset = Math.max(1, seconds - Math.floor((now - entry.start) / 1000));
          best = { limit: entry.limit, remaining, seconds, reset };
        }
        headers[WINDOW_HEADERS[entry.window].limit] = String(entry.limit);
        headers[WINDOW_HEADERS[entry.window].remaining] = String(remaining);
      }
      if (best) {
        headers['RateLimit-Limit'] = String(best.limit);
        headers['RateLimit-Remaining'] = String(best.remaining);
        headers['RateLimit-Reset'] = String(best.reset);
      }
      // With hide_client_headers Kong computes no reset, so a refusal carries no Retry-After either
      const shown = config.hide_client_headers ? {} : headers;
      if (stop !== undefined) {
        const retryAfter: Record<string, string> =
          config.hide_client_headers || !best ? {} : { 'Retry-After': String(best.reset) };
        return kongExitError(config.error_code, config.error_message, { ...shown, ...retryAfter });
      }
      for (const entry of usage) counters.increment(scope, id, entry.window, entry.start, now);
      for (const [name, value] of Object.entries(shown)) context.responseHeaders.set(name, value);
      return undefined;
    },
  };
}
