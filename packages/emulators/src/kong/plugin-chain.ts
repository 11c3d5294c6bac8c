import type { NormalizedKongPluginBase } from '@modelgate/policy';
import type { KongPluginHandler } from './kong-plugin.js';
import type { KongExit, KongRequestContext } from './kong-request.js';

// Kong's plugins iterator for the access phase: handlers in priority order (higher first); for each, the one
// enabled instance that applies, the most specific scope winning (kong/runloop/plugins_iterator.lua:
// consumer+route+service, consumer+route, consumer+service, route+service, consumer, route, service, global).
// The instance is looked up when its turn comes, so plugins after jwt see the consumer jwt set; the instances
// that may run on a route are sorted out once per configuration, as the iterator's lookup is built once per
// configuration, and only the consumer is compared per request.

function specificity(plugin: NormalizedKongPluginBase): number {
  const consumer = plugin.consumer !== null;
  const route = plugin.route !== null;
  const service = plugin.service !== null;
  if (consumer && route && service) return 7;
  if (consumer && route) return 6;
  if (consumer && service) return 5;
  if (route && service) return 4;
  if (consumer) return 3;
  if (route) return 2;
  if (service) return 1;
  return 0;
}

/** Whether an instance may run for requests of this route, service and protocol (its consumer aside). */
function appliesToRoute(
  plugin: NormalizedKongPluginBase,
  context: KongRequestContext,
  grpc: boolean,
): boolean {
  if (!plugin.enabled) return false;
  if (plugin.route !== null && plugin.route.id !== context.route.id) return false;
  if (plugin.service !== null && plugin.service.id !== context.service.id) return false;
  return plugin.protocols.some((protocol) =>
    grpc ? protocol === 'grpc' || protocol === 'grpcs' : protocol === 'http' || protocol === 'https',
  );
}

/** Plugin name -> the instances that may run on a route, most specific first (configuration order on a tie). */
type Candidates = Map<string, readonly NormalizedKongPluginBase[]>;

/** A route's candidates, made once per configuration (whose entities do not change while it is in force). */
interface RouteCandidates {
  config: KongRequestContext['config'];
  service: KongRequestContext['service'];
  http?: Candidates;
  grpc?: Candidates;
}

const candidatesByRoute = new WeakMap<object, RouteCandidates>();

function candidatesOf(context: KongRequestContext): Candidates {
  const grpc = context.request.protocol === 'grpc';
  let entry = candidatesByRoute.get(context.route);
  if (!entry || entry.config !== context.config || entry.service !== context.service) {
    entry = { config: context.config, service: context.service };
    candidatesByRoute.set(context.route, entry);
  }
  let candidates = grpc ? entry.grpc : entry.http;
  if (!candidates) {
    const byName = new Map<string, NormalizedKongPluginBase[]>();
    for (const plugin of context.config.plugins as readonly NormalizedKongPluginBase[]) {
      if (!appliesToRoute(plugin, context, grpc)) continue;
      const list = byName.get(plugin.name) ?? [];
      list.push(plugin);
      byName.set(plugin.name, list);
    }
    // Array.prototype.sort is stable: equally specific instances keep the configuration's order
    for (const list of byName.values()) list.sort((a, b) => specificity(b) - specificity(a));
    candidates = byName;
    if (grpc) entry.grpc = candidates;
    else entry.http = candidates;
  }
  return candidates;
}

/**
 * The instance of a plugin that runs for this request, or undefined: the most specific of those that apply to
 * its route, service and protocol whose consumer, if it names one, is the request's (as found so far).
 */
export function resolvePlugin(
  context: KongRequestContext,
  name: string,
): NormalizedKongPluginBase | undefined {
  const candidates = candidatesOf(context).get(name);
  if (candidates === undefined) return undefined;
  const consumerId = context.consumer?.id;
  for (const plugin of candidates)
    if (plugin.consumer === null || plugin.consumer.id === consumerId) return plugin;
  return undefined;
}

export class PluginChain {
  private readonly handlers: readonly KongPluginHandler[];

  constructor(handlers: readonly KongPluginHandler[]) {
    this.handlers = [...handlers].sort((a, b) => b.priority - a.priority);
  }

  /** Runs the access phase; the first exit ends it. */
  async access(context: KongRequestContext): Promise<KongExit | undefined> {
    for (const handler of this.handlers) {
      const plugin = resolvePlugin(context, handler.name);
      if (!plugin) continue;
      const bodyLimit = handler.bodyLimit?.(context, plugin.config);
      if (bodyLimit !== undefined) await context.request.loadBody?.(bodyLimit);
      const result = (handler as KongPluginHandler<unknown>).access(context, plugin.config, plugin);
      // a synchronous handler costs no extra turn of the microtask queue
      const exit = result instanceof Promise ? await result : result;
      if (exit) return exit;
    }
    return undefined;
  }
}
