import type { status } from '@grpc/grpc-js';
import { formatG } from '@modelgate/proto';
import { codeName } from './tf-serving-error.js';

/** Where TF Serving serves Prometheus metrics when the monitoring config gives no path. */
export const DEFAULT_PROMETHEUS_PATH = '/monitoring/prometheus/metrics';

/** TF Serving's latency buckets (servables/tensorflow/util.cc: Exponential(10, 1.8, 33) microseconds). */
export const LATENCY_BUCKETS_MICROS: readonly number[] = Array.from({ length: 33 }, (_, i) => 10 * 1.8 ** i);

/** absl::StrCat of a double: six significant digits, as `%.6g` prints them. */
const sixDigits = (value: number) => formatG(value, 6);

/** Label values, in label-name order; tsl keeps a metric's points in a map sorted by them. */
type LabelValues = readonly string[];

function compareLabels(a: LabelValues, b: LabelValues): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as string;
    const y = b[i] as string;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** prometheus_exporter.cc SanitizeLabelValue: `\` and `"` escaped. */
const labelValue = (value: string) => value.replace(/\\/g, '\\\\').replace(/"/g, '\\"');

abstract class Family<Point> {
  private readonly points = new Map<string, { labels: LabelValues; point: Point }>();

  constructor(
    /** The Prometheus name: TensorFlow's `/tensorflow/serving/x` with `/` made `:`. */
    readonly name: string,
    private readonly labelNames: readonly string[],
  ) {}

  protected point(labels: LabelValues, create: () => Point): Point {
    const key = labels.join('\u0000');
    let found = this.points.get(key);
    if (!found) {
      found = { labels, point: create() };
      this.points.set(key, found);
    }
    return found.point;
  }

  protected sortedPoints(): { labels: string; point: Point }[] {
    return [...this.points.values()]
      .sort((a, b) => compareLabels(a.labels, b.labels))
      .map(({ labels, point }) => ({
        labels: labels.map((value, i) => `${this.labelNames[i]}="${labelValue(value)}"`).join(','),
        point,
      }));
  }

  abstract lines(): string[];
}

class CounterFamily extends Family<{ value: number }> {
  inc(labels: LabelValues): void {
    this.point(labels, () => ({ value: 0 })).value++;
  }

  lines(): string[] {
    return [
      `# TYPE ${this.name} counter`,
      ...this.sortedPoints().map(({ labels, point }) => `${this.name}{${labels}} ${point.value}`),
    ];
  }
}

class HistogramFamily extends Family<{ counts: number[]; sum: number }> {
  constructor(
    name: string,
    labelNames: readonly string[],
    private readonly limits: readonly number[],
  ) {
    super(name, labelNames);
  }

  observe(labels: LabelValues, value: number): void {
    const point = this.point(labels, () => ({
      counts: new Array<number>(this.limits.length + 1).fill(0),
      sum: 0,
    }));
    // tsl's Histogram: the first bucket whose limit is above the value; the last one is +Inf.
    let bucket = this.limits.findIndex((limit) => value < limit);
    if (bucket < 0) bucket = this.limits.length;
    point.counts[bucket] = (point.counts[bucket] as number) + 1;
    point.sum += value;
  }

  /** prometheus_exporter.cc SerializeHistogram: cumulative buckets with `le` last, then _sum and _count. */
  lines(): string[] {
    const lines = [`# TYPE ${this.name} histogram`];
    for (const { labels, point } of this.sortedPoints()) {
      let cumulative = 0;
      const prefix = `${this.name}_bucket{${labels}${labels === '' ? '' : ','}`;
      point.counts.forEach((count, i) => {
        cumulative += count;
        const limit = i < this.limits.length ? sixDigits(this.limits[i] as number) : '+Inf';
        lines.push(`${prefix}le="${limit}"} ${cumulative}`);
      });
      lines.push(`${this.name}_sum{${labels}} ${sixDigits(point.sum)}`);
      lines.push(`${this.name}_count{${labels}} ${cumulative}`);
    }
    return lines;
  }
}

/**
 * The model server's request metrics under TF Serving's names (its `/` become `:` in the Prometheus export):
 * `:tensorflow:serving:request_count{model_name,status}`,
 * `:tensorflow:serving:request_latency{model_name,API,entrypoint}` and
 * `:tensorflow:serving:runtime_latency{model_name,API,runtime}`, both in microseconds, written as
 * util/prometheus_exporter.cc writes them. One set per server, so that two emulators in one process keep
 * their own counts.
 */
export class ServingMetrics {
  // In the order of TensorFlow's metric names (/tensorflow/serving/request_count, ...), as the exporter lists them.
  private readonly requestCount = new CounterFamily(':tensorflow:serving:request_count', [
    'model_name',
    'status',
  ]);
  private readonly requestLatency = new HistogramFamily(
    ':tensorflow:serving:request_latency',
    ['model_name', 'API', 'entrypoint'],
    LATENCY_BUCKETS_MICROS,
  );
  private readonly runtimeLatency = new HistogramFamily(
    ':tensorflow:serving:runtime_latency',
    ['model_name', 'API', 'runtime'],
    LATENCY_BUCKETS_MICROS,
  );

  /** Every Predict/Classify/Regress over gRPC and every REST request, with its final code. */
  recordRequest(modelName: string, code: status): void {
    this.requestCount.inc([modelName, codeName(code)]);
  }

  /** A successful request's wall time; `api` is `Predict` over gRPC, the URL's verb (`predict`, ``) over REST. */
  recordRequestLatency(modelName: string, api: string, entrypoint: 'GRPC' | 'REST', micros: number): void {
    this.requestLatency.observe([modelName, api, entrypoint], micros);
  }

  /** A model run's wall time (batching wait included, as TF Serving measures around Session::Run). */
  recordRuntimeLatency(modelName: string, api: string, micros: number): void {
    this.runtimeLatency.observe([modelName, api, 'TF1'], micros);
  }

  /** The page prometheus_exporter.cc GeneratePage writes: `# TYPE` lines only, joined by newlines. */
  render(): string {
    const families = [this.requestCount, this.requestLatency, this.runtimeLatency];
    return `${families.flatMap((family) => family.lines()).join('\n')}\n`;
  }
}
