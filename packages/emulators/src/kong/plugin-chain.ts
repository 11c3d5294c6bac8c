import type { NormalizedKongPluginBase } from '@modelgate/policy';
import type { KongPluginHandler } from './kong-plugin.js';
import type { KongExit, KongRequestContext } from './kong-request.js';

// Kong's plugins iterator for the access phase: handlers in priority order (higher first); for each, the one
// enabled instance that applies, the most specific scope winning (kong/runloop/plugins_iterator.lua:
// consumer+route+service, consumer+route, consumer+service, route+service, consumer, route, service, global).
// The instance is looked up when its turn comes, so plugins after jwt see the consumer jwt set.

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

function applies(plugin: NormalizedKongPluginBase, context: KongRequestContext): boolean {
  if (!plugin.enabled) return false;
  if (plugin.route !== null && plugin.route.id !== context.route.id) return false;
  if (plugin.service !== null && plugin.service.id !== context.service.id) return false;
  if (plugin.consumer !== null && plugin.consumer.id !== context.consumer?.id) return false;
  const grpc = context.request.protocol === 'grpc';
  return plugin.protocols.some((protocol) =>
    grpc ? protocol === 'grpc' || protocol === 'grpcs' : protocol === 'http' || protocol === 'https',
  );
}

const instancesByConfig = new WeakMap<object, Map<string, NormalizedKongPluginBase[]>>();

/** The enabled instances of each plugin in a configuration, looked up once per configuration. */
function instancesOf(
  config: KongRequestContext['config'],
  name: string,
): readonly NormalizedKongPluginBase[] {
  let byName = instancesByConfig.get(config);
  if (!byName) {
    byName = new Map();
    for (const plugin of config.plugins as readonly NormalizedKongPluginBase[]) {
      if (!plugin.enabled) continue;
      const list = byName.get(plugin.name) ?? [];
      list.push(plugin);
      byName.set(plugin.name, list);
    }
    instancesByConfig.set(config, byName);
  }
  return byName.get(name) ?? NONE;
}

const NONE: readonly NormalizedKongPluginBase[] = [];

/** The instance of a plugin that runs for this request, or undefined. */
export function resolvePlugin(
  context: KongRequestContext,
  name: string,
): NormalizedKongPluginBase | undefined {
  let best: NormalizedKongPluginBase | undefined;
  for (const plugin of instancesOf(context.config, name)) {
    if (!applies(plugin, context)) continue;
    if (!best || specificity(plugin) > specificity(best)) best = plugin;
  }
  return best;
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
