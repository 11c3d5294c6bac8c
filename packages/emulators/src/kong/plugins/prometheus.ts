import type { KongPrometheusConfig } from '@modelgate/policy';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { KongLogPlugin } from '../kong-log-plugin.js';
import { elapsedMs } from '../kong-log-record.js';
import type { KongWorkspace } from '../kong-log-serializer.js';

// The prometheus plugin (kong/plugins/prometheus at 3.9.3, priority 13): Kong's metric names and labels,
// each per-request family recorded only when its flag is on (status_code_metrics, latency_metrics,
// bandwidth_metrics; per_consumer fills the consumer label). Served on the Status and Admin APIs' /metrics.

/** kong/plugins/prometheus/exporter.lua's DEFAULT_BUCKETS (milliseconds). */
export const KONG_LATENCY_BUCKETS = [
  1, 2, 5, 7, 10, 15, 20, 25, 30, 40, 50, 60, 70, 80, 90, 100, 200, 300, 400, 500, 1000, 2000, 5000, 10000,
  30000, 60000,
];

export class KongPrometheusMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter;
  private readonly bandwidth: Counter;
  private readonly kongLatency: Histogram;
  private readonly upstreamLatency: Histogram;
  private readonly requestLatency: Histogram;

  constructor(nodeId: string, version: string) {
    const registers = [this.registry];
    new Gauge({
      name: 'kong_datastore_reachable',
      help: 'Datastore reachable from Kong, 0 is unreachable',
      registers,
    }).set(1); // DB-less: the declarative config is the datastore
    new Gauge({
      name: 'kong_node_info',
      help: 'Kong Node metadata information',
      labelNames: ['node_id', 'version'],
      registers,
    }).set({ node_id: nodeId, version }, 1);
    new Counter({
      name: 'kong_nginx_metric_errors_total',
      help: 'Number of nginx-lua-prometheus errors',
      registers,
    });
    this.requests = new Counter({
      name: 'kong_http_requests_total',
      help: 'HTTP status codes per consumer/service/route in Kong',
      labelNames: ['service', 'route', 'code', 'source', 'workspace', 'consumer'],
      registers,
    });
    this.bandwidth = new Counter({
      name: 'kong_bandwidth_bytes',
      help: 'Total bandwidth (ingress/egress) throughput in bytes',
      labelNames: ['service', 'route', 'direction', 'workspace', 'consumer'],
      registers,
    });
    const latency = (name: string, help: string) =>
      new Histogram({
        name,
        help,
        labelNames: ['service', 'route', 'workspace'],
        buckets: KONG_LATENCY_BUCKETS,
        registers,
      });
    this.kongLatency = latency(
      'kong_kong_latency_ms',
      'Latency added by Kong and enabled plugins for each service/route in Kong',
    );
    this.upstreamLatency = latency(
      'kong_upstream_latency_ms',
      'Latency added by upstream response for each service/route in Kong',
    );
    this.requestLatency = latency(
      'kong_request_latency_ms',
      'Total latency incurred during requests for each service/route in Kong',
    );
  }

  plugin(workspace: KongWorkspace): KongLogPlugin<KongPrometheusConfig> {
    return {
      name: 'prometheus',
      priority: 13,
      log: (record, config) => {
        const context = record.context;
        const service = context?.service.name ?? context?.service.id ?? '';
        const route = context?.route.name ?? context?.route.id ?? '';
        const consumer = config.per_consumer ? (context?.consumer?.username ?? '') : '';
        const ws = workspace.name;
        if (config.status_code_metrics) {
          this.requests.inc({
            service,
            route,
            code: String(record.status),
            source: record.source === 'service' ? 'service' : 'kong',
            workspace: ws,
            consumer,
          });
        }
        if (config.latency_metrics) {
          const labels = { service, route, workspace: ws };
          const total = elapsedMs(record.arrivedHr, record.endedHr);
          this.requestLatency.observe(labels, total);
          if (record.upstreamSentHr !== undefined) {
            const upstream = elapsedMs(record.upstreamSentHr, record.upstreamAnsweredHr);
            this.upstreamLatency.observe(labels, upstream);
            this.kongLatency.observe(labels, Math.max(0, total - upstream));
          } else {
            this.kongLatency.observe(labels, total);
          }
        }
        if (config.bandwidth_metrics) {
          const labels = (direction: string) => ({ service, route, direction, workspace: ws, consumer });
          this.bandwidth.inc(labels('ingress'), record.requestSize);
          this.bandwidth.inc(labels('egress'), record.responseSize);
        }
      },
    };
  }

  /** The exposition text, as GET /metrics answers it. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}
