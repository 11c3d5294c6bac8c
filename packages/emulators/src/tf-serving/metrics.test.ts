import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { LATENCY_BUCKETS_MICROS, ServingMetrics } from './metrics.js';

describe('model server metrics', () => {
  it("uses TF Serving's latency buckets: 10us growing by 1.8, 33 of them, printed to six digits", () => {
    expect(LATENCY_BUCKETS_MICROS).toHaveLength(33);
    expect(LATENCY_BUCKETS_MICROS.slice(0, 6)).toEqual([10, 18, 32.4, 58.32, 104.976, 188.957]);
    expect(LATENCY_BUCKETS_MICROS.at(-1)).toBe(Number((10 * 1.8 ** 32).toPrecision(6)));
  });

  it("exports TF Serving's names, labels and status names", async () => {
    const metrics = new ServingMetrics();
    metrics.recordRequest('m', status.OK);
    metrics.recordRequest('m', status.INVALID_ARGUMENT);
    metrics.recordRequestLatency('m', 'Predict', 'GRPC', 150);
    metrics.recordRuntimeLatency('m', 'Predict', 90);
    const page = await metrics.render();
    expect(page).toContain(':tensorflow:serving:request_count{model_name="m",status="OK"} 1');
    expect(page).toContain(':tensorflow:serving:request_count{model_name="m",status="INVALID_ARGUMENT"} 1');
    expect(page).toContain(
      ':tensorflow:serving:request_latency_bucket{le="188.957",model_name="m",API="Predict",entrypoint="GRPC"} 1',
    );
    expect(page).toContain(
      ':tensorflow:serving:request_latency_bucket{le="104.976",model_name="m",API="Predict",entrypoint="GRPC"} 0',
    );
    expect(page).toContain(
      ':tensorflow:serving:runtime_latency_sum{model_name="m",API="Predict",runtime="TF1"} 90',
    );
  });

  it("keeps each server's counts apart", async () => {
    const a = new ServingMetrics();
    const b = new ServingMetrics();
    a.recordRequest('m', status.OK);
    expect(await b.render()).not.toContain('model_name="m"');
  });
});
