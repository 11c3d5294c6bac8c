import type { KongRateLimitingConfig, NormalizedKongPluginBase, RateLimitWindow } from '@modelgate/policy';
import type { KongClock } from '../kong-clock.js';
import type { KongPluginHandler } from '../kong-plugin.js';
import { firstHeader, type KongRequestContext, kongExitError } from '../kong-request.js';
import {
  counterKey,
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

/** A configured window, with what a request needs of it worked out once per plugin instance. */
interface ConfiguredWindow {
  window: RateLimitWindow;
  limit: number;
  /** The limit as its headers send it. */
  limitText: string;
  seconds: number;
  limitHeader: string;
  remainingHeader: string;
}

interface Instance {
  /** Kong keys the counters by the plugin's route and service ids (the empty uuid when not scoped so). */
  scope: string;
  windows: ConfiguredWindow[];
  /**
   * Identifier -> counter key, for the first MAX_KEPT_COUNTER_KEYS identifiers: the same string each time,
   * whose hash V8 keeps, rather than a ~110-character key joined, flattened and hashed anew per request.
   */
  counterKeys: Map<string, string>;
}

/**
 * Counter keys an instance keeps made, for identifiers of at most MAX_KEPT_IDENTIFIER_LENGTH characters (a
 * consumer or credential id, an address; a header's value may be kilobytes): the others get theirs made per
 * request, as before, so what is kept stays within a few megabytes for the configuration's life.
 */
const MAX_KEPT_COUNTER_KEYS = 10_000;
const MAX_KEPT_IDENTIFIER_LENGTH = 128;

function counterKeyOf(instance: Instance, identifier: string): string {
  let key = instance.counterKeys.get(identifier);
  if (key === undefined) {
    key = counterKey(instance.scope, identifier);
    if (identifier.length <= MAX_KEPT_IDENTIFIER_LENGTH && instance.counterKeys.size < MAX_KEPT_COUNTER_KEYS)
      instance.counterKeys.set(identifier, key);
  }
  return key;
}

const instances = new WeakMap<object, Instance>();

function instanceOf(plugin: NormalizedKongPluginBase, config: KongRateLimitingConfig): Instance {
  let instance = instances.get(plugin);
  if (!instance) {
    instance = {
      scope: `${plugin.route?.id ?? EMPTY_UUID}:${plugin.service?.id ?? EMPTY_UUID}`,
      windows: RATE_LIMIT_WINDOWS.filter(
        (window) => config[window] !== null && config[window] !== undefined,
      ).map((window) => ({
        window,
        limit: config[window] as number,
        limitText: String(config[window]),
        seconds: WINDOW_SECONDS[window],
        limitHeader: WINDOW_HEADERS[window].limit,
        remainingHeader: WINDOW_HEADERS[window].remaining,
      })),
      counterKeys: new Map(),
    };
    instances.set(plugin, instance);
  }
  return instance;
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
      const instance = instanceOf(plugin, config);
      const { windows } = instance;
      const key = counterKeyOf(instance, identifier(context, config));
      const starts: number[] = [];
      const remaining: number[] = [];
      let stop = -1;
      for (let i = 0; i < windows.length; i++) {
        const entry = windows[i] as ConfiguredWindow;
        const start = windowStart(entry.window, now);
        starts.push(start);
        remaining.push(entry.limit - counters.usage(key, entry.window, start));
        if (stop < 0 && (remaining[i] as number) <= 0) stop = i;
      }

      // the window whose remaining count is lowest (the longer one on a tie) gives the RateLimit-* headers
      const headers: Record<string, string> = {};
      let best = -1;
      let bestRemaining = 0;
      for (let i = 0; i < windows.length; i++) {
        const entry = windows[i] as ConfiguredWindow;
        const left = Math.max(
          0,
          stop < 0 || stop === i ? (remaining[i] as number) - 1 : (remaining[i] as number),
        );
        if (
          best < 0 ||
          left < bestRemaining ||
          (left === bestRemaining && entry.seconds > (windows[best] as ConfiguredWindow).seconds)
        ) {
          best = i;
          bestRemaining = left;
        }
        headers[entry.limitHeader] = entry.limitText;
        headers[entry.remainingHeader] = String(left);
      }
      let reset = 0;
      if (best >= 0) {
        const entry = windows[best] as ConfiguredWindow;
        reset = Math.max(1, entry.seconds - Math.floor((now - (starts[best] as number)) / 1000));
        headers['RateLimit-Limit'] = entry.limitText;
        headers['RateLimit-Remaining'] = String(bestRemaining);
        headers['RateLimit-Reset'] = String(reset);
      }
      if (stop >= 0) {
        // With hide_client_headers Kong computes no reset, so a refusal carries no Retry-After either
        if (config.hide_client_headers) return kongExitError(config.error_code, config.error_message, {});
        return kongExitError(config.error_code, config.error_message, {
          ...headers,
          'Retry-After': String(reset),
        });
      }
      for (let i = 0; i < windows.length; i++)
        counters.increment(key, (windows[i] as ConfiguredWindow).window, starts[i] as number, now);
      if (!config.hide_client_headers)
        for (const name in headers) context.responseHeaders.set(name, headers[name] as string);
      return undefined;
    },
  };
}
