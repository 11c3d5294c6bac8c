import type { status } from '@grpc/grpc-js';
import { Counter, Histogram, Registry } from 'prom-client';
import { codeName } from './tf-serving-error.js';

/** Where TF Serving serves Prometheus metrics when the monitoring config gives no path. */
export const DEFAULT_PROMETHEUS_PATH = '/monitoring/prometheus/metrics';

/**
 * TF Serving's latency buckets (servables/tensorflow/util.cc: Exponential(10, 1.8, 33) microseconds), with the
 * bounds printed the way its exporter prints doubles (six significant digits).
 */
export const LATENCY_BUCKETS_MICROS: readonly number[] = Array.from({ length: 33 }, (_, i) =>
  Number((10 * 1.8 ** i).toPrecision(6)),
);

/**
 * The model server's request metrics under TF Serving's names (its `/` become `:` in the Prometheus export):
 * `:tensorflow:serving:request_count{model_name,status}`,
 * `:tensorflow:serving:request_latency{model_name,API,entrypoint}` and
 * `:tensorflow:serving:runtime_latency{model_name,API,runtime}`, both in microseconds. One registry per server,
 * so that two emulators in one process keep their own counts.
 */
export class ServingMetrics {
  readonly registry = new Registry();
  private readonly requestCount: Counter<'model_name' | 'status'>;
  private readonly requestLatency: Histogram<'model_name' | 'API' | 'entrypoint'>;
  private readonly runtimeLatency: Histogram<'model_name' | 'API' | 'runtime'>;

  constructor() {
    this.requestCount = new Counter({
      name: ':tensorflow:serving:request_count',
      help: 'Requests per model and final status.',
      labelNames: ['model_name', 'status'],
      registers: [this.registry],
    });
    this.requestLatency = new Histogram({
      name: ':tensorflow:serving:request_latency',
      help: 'Wall time of successful requests, in microseconds.',
      labelNames: ['model_name', 'API', 'entrypoint'],
      buckets: [...LATENCY_BUCKETS_MICROS],
      registers: [this.registry],
    });
    this.runtimeLatency = new Histogram({
      name: ':tensorflow:serving:runtime_latency',
      help: 'Wall time of the model runs, in microseconds.',
      labelNames: ['model_name', 'API', 'runtime'],
      buckets: [...LATENCY_BUCKETS_MICROS],
      registers: [this.registry],
    });
  }

  /** Every Predict/Classify/Regress over gRPC and every REST request, with its final code. */
  recordRequest(modelName: string, code: status): void {
    this.requestCount.inc({ model_name: modelName, status: codeName(code) });
  }

  /** A successful request's wall time; `api` is `Predict` over gRPC, the URL's verb (`predict`, ``) over REST. */
  recordRequestLatency(modelName: string, api: string, entrypoint: 'GRPC' | 'REST', micros: number): void {
    this.requestLatency.observe({ model_name: modelName, API: api, entrypoint }, micros);
  }

  /** A model run's wall time (batching wait included, as TF Serving measures around Session::Run). */
  recordRuntimeLatency(modelName: string, api: string, micros: number): void {
    this.runtimeLatency.observe({ model_name: modelName, API: api, runtime: 'TF1' }, micros);
  }

  /** The Prometheus text exposition. */
  render(): Promise<string> {
    return this.registry.metrics();
  }
}
