import { createHash } from 'node:crypto';
import type { NormalizedKongConfig, NormalizedKongService } from '@modelgate/policy';
import { RouteMatcher } from './route-matcher.js';

// One loaded configuration with what requests need from it (the route table, services by id, its hash). The
// emulator swaps the whole snapshot on POST /config; a request keeps the snapshot it started with.

export class KongSnapshot {
  readonly router: RouteMatcher;
  /** Kong's configuration_hash: 32 hex digits (md5 of the config). */
  readonly hash: string;
  private readonly services: Map<string, NormalizedKongService>;

  constructor(readonly config: NormalizedKongConfig) {
    this.router = new RouteMatcher(config.routes);
    this.services = new Map(config.services.map((service) => [service.id, service]));
    this.hash = createHash('md5').update(JSON.stringify(config)).digest('hex');
  }

  service(id: string): NormalizedKongService | undefined {
    return this.services.get(id);
  }

  /** Kong's readiness: a configuration with entities in it. */
  get isEmpty(): boolean {
    const { services, routes, consumers, plugins } = this.config;
    return services.length + routes.length + consumers.length + plugins.length === 0;
  }
}
