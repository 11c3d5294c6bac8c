import { describe, expect, it } from 'vitest';
import { counterDeltas, parsePrometheusText } from './prometheus-scrape.js';

describe('Prometheus text', () => {
  it('reads samples with labels, skips comments, and gives the counters that moved', () => {
    const before = parsePrometheusText(
      '# HELP kong_http_requests_total x\n# TYPE kong_http_requests_total counter\nkong_http_requests_total{service="tf",code="200"} 10\nup 1\n',
    );
    const after = parsePrometheusText(
      'kong_http_requests_total{service="tf",code="200"} 35\nkong_http_requests_total{service="tf",code="401"} 3\nup 1\n',
    );
    expect(counterDeltas(before, after)).toEqual({
      'kong_http_requests_total{service="tf",code="200"}': 25,
      'kong_http_requests_total{service="tf",code="401"}': 3,
    });
  });
});
