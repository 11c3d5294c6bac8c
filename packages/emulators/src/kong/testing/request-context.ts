import type { IncomingHttpHeaders } from 'node:http';
import {
  DEFAULT_POLICY,
  DEFAULT_SECRETS,
  kongConfig,
  MODEL_ACCESS_PLUGIN_SCHEMA,
  type NormalizedKongConfig,
  type NormalizedKongConsumer,
  validateKongConfig,
} from '@modelgate/policy';
import type { KongRequest, KongRequestContext } from '../kong-request.js';

// A request context as the proxy builds one, for running a plugin on its own.

/** The default policy's Kong config, validated and normalized as the emulator loads it. */
export function defaultKongConfig(): NormalizedKongConfig {
  return validateKongConfig(kongConfig(DEFAULT_POLICY, DEFAULT_SECRETS), {
    plugins: [MODEL_ACCESS_PLUGIN_SCHEMA],
  });
}

export function requestContext(
  config: NormalizedKongConfig,
  request: Partial<KongRequest> & { path: string },
  state: { consumer?: NormalizedKongConsumer | null; token?: string | null } = {},
): KongRequestContext {
  const route = config.routes[0];
  const service = config.services[0];
  if (!route || !service) throw new Error('the config needs a route and a service');
  return {
    request: {
      method: 'GET',
      query: new URLSearchParams(),
      headers: {} as IncomingHttpHeaders,
      rawHeaders: [],
      httpVersion: 1,
      protocol: 'http',
      body: Buffer.alloc(0),
      clientIp: '127.0.0.1',
      ...request,
    },
    requestId: '0123456789abcdef0123456789abcdef',
    config,
    route,
    service,
    consumer: state.consumer ?? null,
    credential: null,
    authenticatedJwtToken: state.token ?? null,
    upstreamHeaders: new Map(),
    responseHeaders: new Map(),
    serializeValues: new Map(),
    startedAt: 0,
  };
}
