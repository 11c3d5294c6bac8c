import type { NormalizedKongConfig, NormalizedKongPluginBase } from '@modelgate/policy';
import type { KongLogRecord } from './kong-log-record.js';
import { resolvePlugin } from './plugin-chain.js';

// A plugin's log phase: runs once the response is closed, for every request the plugin applies to, refused
// or proxied (and, for a global instance, requests no route matched).

export interface KongLogPlugin<Config = unknown> {
  name: string;
  priority: number;
  log(record: KongLogRecord, config: Config, plugin: NormalizedKongPluginBase): void;
}

function globalInstance(
  config: NormalizedKongConfig,
  name: string,
  record: KongLogRecord,
): NormalizedKongPluginBase | undefined {
  const protocols = record.request.protocol === 'grpc' ? ['grpc', 'grpcs'] : ['http', 'https'];
  return (config.plugins as readonly NormalizedKongPluginBase[]).find(
    (plugin) =>
      plugin.name === name &&
      plugin.enabled &&
      plugin.route === null &&
      plugin.service === null &&
      plugin.consumer === null &&
      plugin.protocols.some((protocol) => protocols.includes(protocol)),
  );
}

/** Runs the log phase of `plugins` (in priority order) for one finished request. */
export function runLogPhase(
  plugins: readonly KongLogPlugin[],
  config: NormalizedKongConfig,
  record: KongLogRecord,
): void {
  for (const handler of plugins) {
    const plugin = record.context
      ? resolvePlugin(record.context, handler.name)
      : globalInstance(config, handler.name, record);
    if (!plugin) continue;
    try {
      handler.log(record, plugin.config, plugin);
    } catch (error) {
      // Kong logs a failing log handler and goes on with the next plugin
      console.error(`kong emulator: ${handler.name} log phase failed`, error);
    }
  }
}
