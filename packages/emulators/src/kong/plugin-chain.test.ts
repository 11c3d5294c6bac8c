import type { NormalizedKongPluginBase } from '@modelgate/policy';
import { describe, expect, it } from 'vitest';
import type { KongPluginHandler } from './kong-plugin.js';
import type { KongRequestContext } from './kong-request.js';
import { PluginChain, resolvePlugin } from './plugin-chain.js';

// Which instance of a plugin runs for a request, as kong/runloop/plugins_iterator.lua picks it: the enabled one
// of the most specific scope (consumer+route+service ... global), first in the configuration on a tie, for
// the request's protocol, with the consumer an earlier plugin found in this same access phase.

const ROUTE = { id: 'route-1' };
const OTHER_ROUTE = { id: 'route-2' };
const SERVICE = { id: 'service-1' };
const CONSUMER = { id: 'consumer-1', username: 'alice' };

function instance(
  label: string,
  scope: { route?: boolean; service?: boolean; consumer?: boolean },
  extra: Partial<NormalizedKongPluginBase> = {},
): NormalizedKongPluginBase {
  return {
    id: label,
    name: 'counted',
    instance_name: null,
    route: scope.route ? { id: ROUTE.id } : null,
    service: scope.service ? { id: SERVICE.id } : null,
    consumer: scope.consumer ? { id: CONSUMER.id } : null,
    config: { label },
    protocols: ['http', 'https'],
    enabled: true,
    tags: null,
    ...extra,
  };
}

function context(
  plugins: NormalizedKongPluginBase[],
  options: { route?: { id: string }; protocol?: 'http' | 'grpc'; consumer?: boolean } = {},
): KongRequestContext {
  return {
    request: { protocol: options.protocol ?? 'http' },
    config: { plugins },
    route: options.route ?? ROUTE,
    service: SERVICE,
    consumer: options.consumer ? CONSUMER : null,
  } as unknown as KongRequestContext;
}

const label = (plugin: NormalizedKongPluginBase | undefined) => (plugin?.config as { label: string })?.label;

describe('resolvePlugin', () => {
  const all = [
    instance('global', {}),
    instance('service', { service: true }),
    instance('route', { route: true }),
    instance('consumer', { consumer: true }),
    instance('route+service', { route: true, service: true }),
    instance('consumer+service', { consumer: true, service: true }),
    instance('consumer+route', { consumer: true, route: true }),
    instance(
      'consumer+route+service, disabled',
      { consumer: true, route: true, service: true },
      { enabled: false },
    ),
  ];

  it('takes the most specific enabled instance', () => {
    expect(label(resolvePlugin(context(all, { consumer: true }), 'counted'))).toBe('consumer+route');
    expect(label(resolvePlugin(context(all), 'counted'))).toBe('route+service');
  });

  it('goes down the scopes as the more specific ones stop applying', () => {
    // each step removes the instance that won the step before
    const order = [
      'consumer+route',
      'consumer+service',
      'route+service',
      'consumer',
      'route',
      'service',
      'global',
    ];
    for (let i = 0; i < order.length; i++) {
      const left = all.filter((plugin) => !order.slice(0, i).includes(label(plugin) as string));
      expect(label(resolvePlugin(context(left, { consumer: true }), 'counted'))).toBe(order[i]);
    }
  });

  it('leaves out instances scoped to another route, another protocol, or another plugin', () => {
    const plugins = [instance('global', {}), instance('route', { route: true })];
    expect(label(resolvePlugin(context(plugins, { route: OTHER_ROUTE }), 'counted'))).toBe('global');
    expect(resolvePlugin(context(plugins, { protocol: 'grpc' }), 'counted')).toBeUndefined();
    const grpc = [...plugins, instance('grpc route', { route: true }, { protocols: ['grpc', 'grpcs'] })];
    expect(label(resolvePlugin(context(grpc, { protocol: 'grpc' }), 'counted'))).toBe('grpc route');
    expect(resolvePlugin(context(plugins), 'other')).toBeUndefined();
  });

  it('takes the first in the configuration when two are as specific', () => {
    const plugins = [
      instance('global', {}),
      instance('first', { route: true }),
      instance('second', { route: true }),
    ];
    expect(label(resolvePlugin(context(plugins), 'counted'))).toBe('first');
  });
});

describe('PluginChain', () => {
  it('runs by priority, and a later plugin sees the consumer an earlier one set', async () => {
    const seen: string[] = [];
    const authenticate: KongPluginHandler = {
      name: 'authenticates',
      priority: 1000,
      access(each) {
        seen.push('authenticates');
        each.consumer = CONSUMER as KongRequestContext['consumer'];
        return undefined;
      },
    };
    const counted: KongPluginHandler = {
      name: 'counted',
      priority: 10,
      access: (_, config) => {
        seen.push((config as { label: string }).label);
        return undefined;
      },
    };
    const plugins = [
      instance('route', { route: true }),
      instance('consumer+route', { consumer: true, route: true }),
      { ...instance('auth', {}), name: 'authenticates' },
    ];
    const chain = new PluginChain([counted, authenticate]);
    expect(await chain.access(context(plugins))).toBeUndefined();
    expect(seen).toEqual(['authenticates', 'consumer+route']);
    seen.length = 0;
    // without the authenticating plugin's instance, no consumer: the route's instance runs
    expect(await chain.access(context(plugins.slice(0, 2)))).toBeUndefined();
    expect(seen).toEqual(['route']);
  });
});
