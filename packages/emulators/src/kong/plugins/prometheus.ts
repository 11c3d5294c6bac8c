import type { KongPrometheusConfig } from '@modelgate/policy';
import type { KongLogPlugin } from '../kong-log-plugin.js';
import { type KongLogRecord, kongLatencies } from '../kong-log-record.js';
import type { KongWorkspace } from '../kong-log-serializer.js';

// The prometheus plugin (kong/plugins/prometheus at 3.9.3, priority 13): Kong's metric names and labels,
// each per-request family recorded only when its flag is on (status_code_metrics, latency_metrics,
// bandwidth_metrics; per_consumer fills the consumer label). Served on the Status and Admin APIs' /metrics.
//
// Stored and written as the nginx-lua-prometheus Kong bundles (kong/plugins/prometheus/prometheus.lua) does it,
// which a generic client library does not: every series is a key (the metric name with its labels in declared
// order, `le` last, bucket bounds zero-padded so that keys sort in bound order) that exists from its first
// increment on, so a histogram has no bucket below its smallest observation; the page is every key sorted
// byte-wise, each family's HELP and TYPE before its first key, `le` written back as a plain number and
// `+Inf`, label values with only `\` and `"` escaped. Each series' keys are made once, when it first counts.

/** exporter.lua's KONG_LATENCY_BUCKETS (milliseconds), for kong_kong_latency_ms. */
export const KONG_LATENCY_BUCKETS = [
  1, 2, 5, 7, 10, 15, 20, 30, 50, 75, 100, 200, 500, 750, 1000, 3000, 6000,
];

/** exporter.lua's UPSTREAM_LATENCY_BUCKETS, for kong_upstream_latency_ms and kong_request_latency_ms. */
export const UPSTREAM_LATENCY_BUCKETS = [
  25, 50, 80, 100, 250, 400, 700, 1000, 2000, 5000, 10000, 30000, 60000,
];

/** The prefix Kong's exporter gives every metric name on the page. */
const PREFIX = 'kong_';

type MetricType = 'counter' | 'gauge' | 'histogram';

interface Family {
  name: string;
  help: string;
  type: MetricType;
  labelNames: readonly string[];
}

/** A histogram family: its bucket bounds and their key format, worked out once when it is registered. */
interface HistogramFamily extends Family {
  buckets: readonly number[];
  format: (bound: number) => string;
}

/** One stored value: its key (what the page is sorted by) and its line as written. */
interface Cell {
  key: string;
  line: string;
  value: number;
}

/** full_metric_name's label values: only a backslash and a double quote are escaped. */
function labelValue(value: string): string {
  return value.replaceAll('\\', '\\\\').replaceAll('"', '\\"');
}

/**
 * Lua's string comparison (table.sort) on the page's keys: byte-wise in UTF-8, i.e. by code point, where
 * JavaScript's `<` compares UTF-16 units (a character above U+FFFF, a surrogate pair, would sort before
 * U+E000-U+FFFF). A lone surrogate counts as the U+FFFD it is written as.
 */
export function compareBytewise(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = codePointAt(a, i);
    const y = codePointAt(b, j);
    if (x !== y) return x - y;
    i += x > 0xffff ? 2 : 1;
    j += y > 0xffff ? 2 : 1;
  }
  return a.length - i - (b.length - j);
}

function codePointAt(text: string, at: number): number {
  const point = text.codePointAt(at) as number;
  return point >= 0xd800 && point <= 0xdfff ? 0xfffd : point;
}

/** `{k1="v1",k2="v2"}` in declared order, or nothing without labels. */
function labelBlock(family: Family, values: readonly string[]): string {
  if (family.labelNames.length === 0) return '';
  return `{${family.labelNames.map((name, i) => `${name}="${labelValue(values[i] ?? '')}"`).join(',')}}`;
}

/**
 * construct_bucket_format: the bounds zero-padded to the widest integer part and the longest fraction (at
 * least one digit each), so that the keys of one series sort in bound order.
 */
function bucketFormat(buckets: readonly number[]): (bound: number) => string {
  let order = 1;
  let precision = 1;
  for (const bound of buckets) {
    const text = bound.toFixed(6).replace(/0*$/, ''); // string.format("%f") less its trailing zeros
    const dot = text.indexOf('.');
    order = Math.max(order, dot);
    precision = Math.max(precision, text.length - dot - 1);
  }
  return (bound) => bound.toFixed(precision).padStart(order + precision + 1, '0');
}

/** A counter or gauge series. */
class Series {
  constructor(
    private readonly registry: KongPrometheusRegistry,
    private readonly key: string,
  ) {}

  private cell: Cell | undefined;

  inc(by = 1): void {
    this.cell ??= this.registry.cell(this.key);
    this.cell.value += by;
  }

  set(value: number): void {
    this.cell ??= this.registry.cell(this.key);
    this.cell.value = value;
  }
}

/** A histogram series: _count, _sum and a key per bucket, the last one `Inf`. */
class HistogramSeries {
  private readonly cells: (Cell | undefined)[];
  private count: Cell | undefined;
  private sum: Cell | undefined;

  constructor(
    private readonly registry: KongPrometheusRegistry,
    private readonly family: HistogramFamily,
    private readonly labels: string,
  ) {
    this.cells = new Array(family.buckets.length + 1);
  }

  private bucket(index: number): Cell {
    let cell = this.cells[index];
    if (!cell) {
      const prefix = `${this.family.name}_bucket${this.labels === '' ? '{' : `${this.labels.slice(0, -1)},`}`;
      const bound = this.family.buckets[index];
      cell =
        bound === undefined
          ? this.registry.cell(`${prefix}le="Inf"}`, `${prefix}le="+Inf"}`)
          : this.registry.cell(`${prefix}le="${this.family.format(bound)}"}`, `${prefix}le="${bound}"}`);
      this.cells[index] = cell;
    }
    return cell;
  }

  /** observe(): the count, the sum, every bucket whose bound is at least the value, and Inf. */
  observe(value: number): void {
    this.count ??= this.registry.cell(`${this.family.name}_count${this.labels}`);
    this.sum ??= this.registry.cell(`${this.family.name}_sum${this.labels}`);
    this.count.value += 1;
    this.sum.value += value;
    const { buckets } = this.family;
    for (let i = buckets.length - 1; i >= 0 && value <= (buckets[i] as number); i--)
      this.bucket(i).value += 1;
    this.bucket(buckets.length).value += 1;
  }
}

/** The metric store of one emulator: what Kong's shared dict `prometheus_metrics` holds. */
class KongPrometheusRegistry {
  private readonly families = new Map<string, Family>();
  private readonly cells = new Map<string, Cell>();

  register(
    name: string,
    help: string,
    type: 'counter' | 'gauge',
    labelNames: readonly string[] = [],
  ): Family {
    const family = { name, help, type, labelNames };
    this.families.set(name, family);
    return family;
  }

  registerHistogram(
    name: string,
    help: string,
    labelNames: readonly string[],
    buckets: readonly number[],
  ): HistogramFamily {
    const family = {
      name,
      help,
      type: 'histogram' as const,
      labelNames,
      buckets,
      format: bucketFormat(buckets),
    };
    this.families.set(name, family);
    return family;
  }

  /** The cell of a key (made on first use); `shown` is the key as the page writes it. */
  cell(key: string, shown = key): Cell {
    let cell = this.cells.get(key);
    if (!cell) {
      cell = { key, line: `${PREFIX}${shown} `, value: 0 };
      this.cells.set(key, cell);
    }
    return cell;
  }

  series(family: Family, labelValues: readonly string[]): Series {
    return new Series(this, `${family.name}${labelBlock(family, labelValues)}`);
  }

  histogram(family: HistogramFamily, labelValues: readonly string[]): HistogramSeries {
    return new HistogramSeries(this, family, labelBlock(family, labelValues));
  }

  /** metric_data(): every key in byte order, each family's HELP and TYPE before its first one. */
  text(): string {
    const cells = [...this.cells.values()].sort((a, b) => compareBytewise(a.key, b.key));
    const seen = new Set<string>();
    let text = '';
    for (const cell of cells) {
      const name = shortName(cell.key);
      if (!seen.has(name)) {
        seen.add(name);
        const family = this.families.get(name);
        if (family)
          text += `# HELP ${PREFIX}${name} ${family.help}\n# TYPE ${PREFIX}${name} ${family.type}\n`;
      }
      text += `${cell.line}${cell.value}\n`;
    }
    return text;
  }
}

/** short_metric_name: the key without its labels, and a histogram bucket's without `_bucket`. */
function shortName(key: string): string {
  const labels = key.indexOf('{');
  if (labels < 0) return key;
  const bucket = key.indexOf('_bucket{');
  if (bucket >= 0 && key.includes('le=')) return key.slice(0, bucket);
  return key.slice(0, labels);
}

/** The children of each per-request family for one service, route, workspace and consumer. */
interface RouteSeries {
  requestLatency: HistogramSeries;
  upstreamLatency: HistogramSeries;
  kongLatency: HistogramSeries;
  ingress: Series;
  egress: Series;
  /** kong_http_requests_total's series for a status code and source (service, or kong). */
  requests(status: number, fromService: boolean): Series;
}

export class KongPrometheusMetrics {
  private readonly registry = new KongPrometheusRegistry();
  private readonly requests: Family;
  private readonly bandwidth: Family;
  private readonly kongLatency: HistogramFamily;
  private readonly upstreamLatency: HistogramFamily;
  private readonly requestLatency: HistogramFamily;

  constructor(nodeId: string, version: string) {
    const registry = this.registry;
    // prometheus.lua's own error counter, set to 0 at init
    registry
      .series(
        registry.register('nginx_metric_errors_total', 'Number of nginx-lua-prometheus errors', 'counter'),
        [],
      )
      .set(0);
    const reachable = registry.register(
      'datastore_reachable',
      'Datastore reachable from Kong, 0 is unreachable',
      'gauge',
    );
    registry.series(reachable, []).set(1); // DB-less: the declarative config is the datastore
    const nodeInfo = registry.register('node_info', 'Kong Node metadata information', 'gauge', [
      'node_id',
      'version',
    ]);
    registry.series(nodeInfo, [nodeId, version]).set(1);
    this.requests = registry.register(
      'http_requests_total',
      'HTTP status codes per consumer/service/route in Kong',
      'counter',
      ['service', 'route', 'code', 'source', 'workspace', 'consumer'],
    );
    const latencyLabels = ['service', 'route', 'workspace'];
    this.kongLatency = registry.registerHistogram(
      'kong_latency_ms',
      'Latency added by Kong and enabled plugins for each service/route in Kong',
      latencyLabels,
      KONG_LATENCY_BUCKETS,
    );
    this.upstreamLatency = registry.registerHistogram(
      'upstream_latency_ms',
      'Latency added by upstream response for each service/route in Kong',
      latencyLabels,
      UPSTREAM_LATENCY_BUCKETS,
    );
    this.requestLatency = registry.registerHistogram(
      'request_latency_ms',
      'Total latency incurred during requests for each service/route in Kong',
      latencyLabels,
      UPSTREAM_LATENCY_BUCKETS,
    );
    this.bandwidth = registry.register(
      'bandwidth_bytes',
      'Total bandwidth (ingress/egress) throughput in bytes',
      'counter',
      ['service', 'route', 'direction', 'workspace', 'consumer'],
    );
  }

  plugin(workspace: KongWorkspace): KongLogPlugin<KongPrometheusConfig> {
    /**
     * seriesOf's answers by the configuration's own route and service objects, then the consumer's name:
     * things V8 has hashed already, where seriesOf's key is joined and hashed anew.
     */
    const byRoute = new WeakMap<object, WeakMap<object, Map<string, RouteSeries>>>();
    const routeSeries = (context: NonNullable<KongLogRecord['context']>, consumer: string): RouteSeries => {
      let byService = byRoute.get(context.route);
      if (!byService) {
        byService = new WeakMap();
        byRoute.set(context.route, byService);
      }
      let byConsumer = byService.get(context.service);
      if (!byConsumer) {
        byConsumer = new Map();
        byService.set(context.service, byConsumer);
      }
      let found = byConsumer.get(consumer);
      if (!found) {
        found = this.seriesOf(
          context.service.name ?? context.service.host,
          context.route.name ?? context.route.id,
          workspace.name,
          consumer,
        );
        byConsumer.set(consumer, found);
      }
      return found;
    };
    return {
      name: 'prometheus',
      priority: 13,
      log: (record, config) => {
        const context = record.context;
        if (!context) return; // exporter.lua: nothing for a request no route matched
        const consumer = config.per_consumer ? (context.consumer?.username ?? '') : '';
        const series = routeSeries(context, consumer);
        if (config.bandwidth_metrics) {
          if (record.requestSize > 0) series.ingress.inc(record.requestSize);
          if (record.responseSize > 0) series.egress.inc(record.responseSize);
        }
        if (config.status_code_metrics) series.requests(record.status, record.source === 'service').inc();
        if (config.latency_metrics) {
          // the file-log latencies: proxy is -1 (not observed) when nothing was proxied
          const latencies = kongLatencies(record);
          series.requestLatency.observe(latencies.request);
          if (latencies.proxy >= 0) series.upstreamLatency.observe(latencies.proxy);
          series.kongLatency.observe(latencies.kong);
        }
      },
    };
  }

  /** The series one service, route, workspace and consumer write to, by one key joined of their names. */
  private readonly series = new Map<string, RouteSeries>();
  private seriesOf(service: string, route: string, ws: string, consumer: string): RouteSeries {
    const key = `${service}\u0000${route}\u0000${ws}\u0000${consumer}`;
    let found = this.series.get(key);
    if (!found) {
      const registry = this.registry;
      const latency = [service, route, ws];
      // by status, one map per source (numbers as keys: nothing to join or hash per request)
      const requestsByCode = { service: new Map<number, Series>(), kong: new Map<number, Series>() };
      found = {
        requestLatency: registry.histogram(this.requestLatency, latency),
        upstreamLatency: registry.histogram(this.upstreamLatency, latency),
        kongLatency: registry.histogram(this.kongLatency, latency),
        ingress: registry.series(this.bandwidth, [service, route, 'ingress', ws, consumer]),
        egress: registry.series(this.bandwidth, [service, route, 'egress', ws, consumer]),
        requests: (status, fromService) => {
          const source = fromService ? 'service' : 'kong';
          const byCode = requestsByCode[source];
          let child = byCode.get(status);
          if (!child) {
            child = registry.series(this.requests, [service, route, String(status), source, ws, consumer]);
            byCode.set(status, child);
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
    return Promise.resolve(this.registry.text());
  }
}
