import type { KongRateLimitingConfig, NormalizedKongPluginBase } from '@modelgate/policy';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../kong-clock.js';
import { defaultKongConfig, requestContext } from '../testing/request-context.js';
import { rateLimitingPlugin } from './rate-limiting.js';
import { RateLimitCounters } from './rate-limiting-counters.js';

// The plugin on its own: counts per identifier, however many identifiers come (an instance keeps the counter
// keys of the first 10,000 made; the ones after are made per request and must count the same).

const config = defaultKongConfig();
const global = config.plugins.find((plugin) => plugin.name === 'rate-limiting') as NormalizedKongPluginBase;

function byHeader(limit: number): { plugin: NormalizedKongPluginBase; settings: KongRateLimitingConfig } {
  const settings = {
    ...(global.config as unknown as KongRateLimitingConfig),
    limit_by: 'header',
    header_name: 'X-Client',
    second: null,
    minute: limit,
    hour: null,
    day: null,
    month: null,
    year: null,
    hide_client_headers: false,
  } as KongRateLimitingConfig;
  return { plugin: { ...global, config: settings as unknown as Record<string, unknown> }, settings };
}

describe('rate-limiting', () => {
  it('counts each identifier on its own, past the 10,000 whose counter keys it keeps', () => {
    const handler = rateLimitingPlugin(
      new ManualClock(Date.UTC(2026, 11, 3, 12, 0, 0)),
      new RateLimitCounters(),
    );
    const { plugin, settings } = byHeader(2);
    const call = (client: string) => {
      const context = requestContext(config, { path: '/', headers: { 'x-client': client } });
      const exit = handler.access(context, settings, plugin);
      return { exit, remaining: context.responseHeaders.get('X-RateLimit-Remaining-Minute') };
    };
    for (let i = 0; i < 10_050; i++) expect(call(`client-${i}`)).toEqual({ exit: undefined, remaining: '1' });
    for (const client of ['client-7', 'client-10042']) {
      expect(call(client)).toEqual({ exit: undefined, remaining: '0' });
      expect(call(client).exit).toMatchObject({ status: 429, message: 'API rate limit exceeded' });
    }
    expect(call('client-10049')).toEqual({ exit: undefined, remaining: '0' });
  });
});
