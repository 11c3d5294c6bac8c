import type { NormalizedKongPluginBase } from '@modelgate/policy';
import type { KongExit, KongRequestContext } from './kong-request.js';

// A plugin's access phase, as the emulator runs it: it may change the context (consumer, upstream headers) and
// ends the request by returning an exit.

export interface KongPluginHandler<Config = unknown> {
  name: string;
  /** Kong's PRIORITY: higher runs first. */
  priority: number;
  /**
   * When the plugin reads the request body: the most bytes it needs. The chain reads that much (plus one, so
   * that a longer body shows as longer) into `context.request.body` before `access` runs; nothing is read for
   * a request an earlier plugin refused.
   */
  bodyLimit?(context: KongRequestContext, config: Config): number | undefined;
  /** `plugin` is the instance that applies to this request (its scope and id). */
  access(
    context: KongRequestContext,
    config: Config,
    plugin: NormalizedKongPluginBase,
  ): Promise<KongExit | undefined> | KongExit | undefined;
}
