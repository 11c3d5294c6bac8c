import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { LATENCY_BUCKETS_MICROS, ServingMetrics } from './metrics.js';

describe('model server metrics', () => {
  it("uses TF Serving's latency buckets: 10us growing by 1.8, 33 of them", () => {
    expect(LATENCY_BUCKETS_MICROS).toHaveLength(33);
    expect(LATENCY_BUCKETS_MICROS[0]).toBe(10);
    expect(LATENCY_BUCKETS_MICROS.at(-1)).toBeCloseTo(10 * 1.8 ** 32);
  });

  it('writes the page as prometheus_exporter.cc does: # TYPE lines only, le last, six-digit doubles', async () => {
    const metrics = new ServingMetrics();
    metrics.recordRequest('m', status.OK);
    metrics.recordRequest('m', status.INVALID_ARGUMENT);
    metrics.recordRequest('m', status.OK);
    metrics.recordRequestLatency('m', 'Predict', 'GRPC', 150);
    metrics.recordRuntimeLatency('m', 'Predict', 1234567);
    const lines = (await metrics.render()).split('\n');
    expect(lines.filter((line) => line.startsWith('#'))).toEqual([
      '# TYPE :tensorflow:serving:request_count counter',
      '# TYPE :tensorflow:serving:request_latency histogram',
      '# TYPE :tensorflow:serving:runtime_latency histogram',
    ]);
    expect(lines.slice(0, 3)).toEqual([
      '# TYPE :tensorflow:serving:request_count counter',
      ':tensorflow:serving:request_count{model_name="m",status="INVALID_ARGUMENT"} 1',
      ':tensorflow:serving:request_count{model_name="m",status="OK"} 2',
    ]);
    expect(lines).toContain(
      ':tensorflow:serving:request_latency_bucket{model_name="m",API="Predict",entrypoint="GRPC",le="104.976"} 0',
    );
    expect(lines).toContain(
      ':tensorflow:serving:request_latency_bucket{model_name="m",API="Predict",entrypoint="GRPC",le="188.957"} 1',
    );
    expect(lines).toContain(
      ':tensorflow:serving:request_latency_bucket{model_name="m",API="Predict",entrypoint="GRPC",le="1.47476e+09"} 1',
    );
    expect(lines).toContain(
      ':tensorflow:serving:request_latency_bucket{model_name="m",API="Predict",entrypoint="GRPC",le="+Inf"} 1',
    );
    expect(lines).toContain(
      ':tensorflow:serving:request_latency_sum{model_name="m",API="Predict",entrypoint="GRPC"} 150',
    );
    expect(lines).toContain(
      ':tensorflow:serving:request_latency_count{model_name="m",API="Predict",entrypoint="GRPC"} 1',
    );
    expect(lines).toContain(
      ':tensorflow:serving:runtime_latency_sum{model_name="m",API="Predict",runtime="TF1"} 1.23457e+06',
    );
    expect(lines.at(-1)).toBe('');
  });

  it("keeps each server's counts apart", async () => {
    const a = new ServingMetrics();
    const b = new ServingMetrics();
    a.recordRequest('m', status.OK);
    expect(await b.render()).not.toContain('model_name="m"');
  });
});
