import type { KongPrometheusConfig } from '@modelgate/policy';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { KongLogPlugin } from '../kong-log-plugin.js';
import { kongLatencies } from '../kong-log-record.js';
import type { KongWorkspace } from '../kong-log-serializer.js';

// The prometheus plugin (kong/plugins/prometheus at 3.9.3, priority 13): Kong's metric names and labels,
// each per-request family recorded only when its flag is on (status_code_metrics, latency_metrics,
// bandwidth_metrics; per_consumer fills the consumer label). Served on the Status and Admin APIs' /metrics.

/** exporter.lua's KONG_LATENCY_BUCKETS (milliseconds), for kong_kong_latency_ms. */
export const KONG_LATENCY_BUCKETS = [
  1, 2, 5, 7, 10, 15, 20, 30, 50, 75, 100, 200, 500, 750, 1000, 3000, 6000,
];

/** exporter.lua's UPSTREAM_LATENCY_BUCKETS, for kong_upstream_latency_ms and kong_request_latency_ms. */
export const UPSTREAM_LATENCY_BUCKETS = [
  25, 50, 80, 100, 250, 400, 700, 1000, 2000, 5000, 10000, 30000, 60000,
];

interface Observed {
  observe(value: number): void;
}

interface Counted {
  inc(value?: number): void;
}

/** The children of each per-request family for one service, route, workspace and consumer. */
interface RouteSeries {
  requestLatency: Observed;
  upstreamLatency: Observed;
  kongLatency: Observed;
  ingress: Counted;
  egress: Counted;
  /** kong_http_requests_total's child for a status code and source (service, or kong). */
  requests(status: number, fromService: boolean): Counted;
}

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
    const latency = (name: string, help: string, buckets: number[]) =>
      new Histogram({ name, help, labelNames: ['service', 'route', 'workspace'], buckets, registers });
    this.kongLatency = latency(
      'kong_kong_latency_ms',
      'Latency added by Kong and enabled plugins for each service/route in Kong',
      KONG_LATENCY_BUCKETS,
    );
    this.upstreamLatency = latency(
      'kong_upstream_latency_ms',
      'Latency added by upstream response for each service/route in Kong',
      UPSTREAM_LATENCY_BUCKETS,
    );
    this.requestLatency = latency(
      'kong_request_latency_ms',
      'Total latency incurred during requests for each service/route in Kong',
      UPSTREAM_LATENCY_BUCKETS,
    );
  }

  plugin(workspace: KongWorkspace): KongLogPlugin<KongPrometheusConfig> {
    return {
      name: 'prometheus',
      priority: 13,
      log: (record, config) => {
        const context = record.context;
        if (!context) return; // exporter.lua: nothing for a request no route matched
        const service = context.service.name ?? context.service.host;
        const route = context.route.name ?? context.route.id;
        const consumer = config.per_consumer ? (context.consumer?.username ?? '') : '';
        const series = this.seriesOf(service, route, workspace.name, consumer);
        if (config.status_code_metrics) series.requests(record.status, record.source === 'service').inc();
        if (config.latency_metrics) {
          // the file-log latencies: proxy is -1 (not observed) when nothing was proxied
          const latencies = kongLatencies(record);
          series.requestLatency.observe(latencies.request);
          if (latencies.proxy >= 0) series.upstreamLatency.observe(latencies.proxy);
          series.kongLatency.observe(latencies.kong);
        }
        if (config.bandwidth_metrics) {
          if (record.requestSize > 0) series.ingress.inc(record.requestSize);
          if (record.responseSize > 0) series.egress.inc(record.responseSize);
        }
      },
    };
  }

  /**
   * The series one service, route, workspace and consumer write to, looked up with one key per request (not
   * one per family): prom-client hashes a label object on every call through a family.
   */
  private readonly series = new Map<string, RouteSeries>();

  private seriesOf(service: string, route: string, ws: string, consumer: string): RouteSeries {
    const key = `${service}\u0000${route}\u0000${ws}\u0000${consumer}`;
    let found = this.series.get(key);
    if (!found) {
      const latencyLabels = [service, route, ws];
      const requestsByCode = new Map<string, Counted>();
      found = {
        requestLatency: this.requestLatency.labels(...latencyLabels),
        upstreamLatency: this.upstreamLatency.labels(...latencyLabels),
        kongLatency: this.kongLatency.labels(...latencyLabels),
        ingress: this.bandwidth.labels(service, route, 'ingress', ws, consumer),
        egress: this.bandwidth.labels(service, route, 'egress', ws, consumer),
        requests: (status, fromService) => {
          const source = fromService ? 'service' : 'kong';
          const code = `${status}:${source}`;
          let child = requestsByCode.get(code);
          if (!child) {
            child = this.requests.labels(service, route, String(status), source, ws, consumer);
            requestsByCode.set(code, child);
          }
          return child;
        },
      };
      this.series.set(key, found);
    }
    return found;
  }

  /** The exposition text, as GET /metrics answers it. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}
