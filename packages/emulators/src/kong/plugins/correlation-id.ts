import { randomUUID } from 'node:crypto';
import type { KongCorrelationIdConfig } from '@modelgate/policy';
import type { KongPluginHandler } from '../kong-plugin.js';
import { firstHeader } from '../kong-request.js';

// The correlation-id plugin (kong/plugins/correlation-id/handler.lua at 3.9.3, priority 100001): keeps a
// non-empty incoming id, else makes one (uuid, or uuid#counter: one uuid per worker and a counter), sends it
// upstream and, with echo_downstream, on the response (refusals included: it runs before every other plugin).

export function correlationIdPlugin(): KongPluginHandler<KongCorrelationIdConfig> {
  const workerUuid = randomUUID();
  let counter = 0;
  let trackerCounter = 0;
  const generate = (generator: KongCorrelationIdConfig['generator'], requestId: string): string => {
    if (generator === 'uuid') return randomUUID();
    if (generator === 'tracker') return `${requestId}-${++trackerCounter}`;
    return `${workerUuid}#${++counter}`;
  };
  return {
    name: 'correlation-id',
    priority: 100001,
    access(context, config) {
      const name = config.header_name.toLowerCase();
      let id = firstHeader(context.request.headers, name);
      if (!id) {
        id = generate(config.generator, context.requestId);
        context.upstreamHeaders.set(name, id);
      }
      context.serializeValues.set('correlation_id', id);
      if (config.echo_downstream) context.responseHeaders.set(config.header_name, id);
      return undefined;
    },
  };
}
