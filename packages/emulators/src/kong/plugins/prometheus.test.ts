import type { GatewayConfig } from '@modelgate/policy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KongEmulator } from '../kong-emulator.js';
import { localGatewayConfig } from '../testing/local-gateway.js';
import { mintToken } from '../testing/tokens.js';
import { startEchoUpstream, type TestUpstream } from '../testing/upstreams.js';

// The prometheus plugin: Kong's metric names and labels on the Status API's (and Admin API's) /metrics, each
// per-request family only when its flag is on.

const PLUGINS = ['bundled', 'modelgate-model-access'];

let rest: TestUpstream;
let generated: GatewayConfig;
let kong: KongEmulator;

function withPrometheus(flags: Record<string, boolean>): GatewayConfig {
  const copy = structuredClone(generated);
  for (const plugin of copy.plugins ?? []) {
    if (plugin.name === 'prometheus') Object.assign(plugin.config as object, flags);
    if (plugin.name === 'file-log') (plugin.config as { path: string }).path = '/dev/null';
  }
  return copy;
}

async function metrics(base: string): Promise<string> {
  const response = await fetch(`${base}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
  return response.text();
}

beforeAll(async () => {
  rest = await startEchoUpstream();
  generated = localGatewayConfig({ restPort: rest.port, grpcPort: 1 });
  kong = await KongEmulator.start({ config: withPrometheus({}), plugins: PLUGINS });
});

afterAll(async () => {
  await kong?.stop();
  await rest?.close();
});

describe('prometheus', () => {
  it('counts requests by service, route, code, source and consumer, with the latency histograms and bandwidth', async () => {
    const authorization = `Bearer ${await mintToken('ops-console', { issuedAt: Math.floor(Date.now() / 1000) })}`;
    for (let i = 0; i < 3; i++)
      await (await fetch(`${kong.proxyUrl()}/v1/models/classifier`, { headers: { authorization } })).text();
    await (await fetch(`${kong.proxyUrl()}/v1/models/classifier`)).text(); // 401
    await kong.flushLogs();
    const text = await metrics(kong.statusUrl());
    expect(text).toContain(
      'kong_http_requests_total{service="tf-serving-rest",route="rest-classifier",code="200",source="service",workspace="default",consumer="ops-console"} 3',
    );
    expect(text).toContain(
      'kong_http_requests_total{service="tf-serving-rest",route="rest-classifier",code="401",source="kong",workspace="default",consumer=""} 1',
    );
    expect(text).toContain(
      'kong_request_latency_ms_count{service="tf-serving-rest",route="rest-classifier",workspace="default"} 4',
    );
    expect(text).toContain(
      'kong_upstream_latency_ms_count{service="tf-serving-rest",route="rest-classifier",workspace="default"} 3',
    );
    // exporter.lua's two bucket lists: Kong's own latency, and upstream/request latency
    const buckets = (family: string) =>
      [...text.matchAll(new RegExp(`^${family}_bucket\\{le="([^"]+)",service="tf-serving-rest"`, 'gm'))].map(
        (found) => found[1],
      );
    expect(buckets('kong_kong_latency_ms')).toEqual([
      '1',
      '2',
      '5',
      '7',
      '10',
      '15',
      '20',
      '30',
      '50',
      '75',
      '100',
      '200',
      '500',
      '750',
      '1000',
      '3000',
      '6000',
      '+Inf',
    ]);
    const upstreamBuckets = [
      '25',
      '50',
      '80',
      '100',
      '250',
      '400',
      '700',
      '1000',
      '2000',
      '5000',
      '10000',
      '30000',
      '60000',
      '+Inf',
    ];
    expect(buckets('kong_upstream_latency_ms')).toEqual(upstreamBuckets);
    expect(buckets('kong_request_latency_ms')).toEqual(upstreamBuckets);
    expect(text).toMatch(
      /kong_bandwidth_bytes\{service="tf-serving-rest",route="rest-classifier",direction="egress",workspace="default",consumer="ops-console"\} [1-9]\d*/,
    );
    expect(text).toContain('kong_datastore_reachable 1');
    expect(text).toMatch(/kong_node_info\{node_id="[0-9a-f-]{36}",version="3\.9\.3"\} 1/);
    expect(await metrics(kong.adminUrl())).toContain('kong_http_requests_total{');
  });

  it('records nothing for a request no route matched, and labels a nameless service by its host', async () => {
    const config = withPrometheus({});
    for (const service of config.services ?? []) delete (service as { name?: string }).name;
    const own = await KongEmulator.start({ config, plugins: PLUGINS });
    try {
      await (await fetch(`${own.proxyUrl()}/nowhere`)).text(); // 404, no route
      await (await fetch(`${own.proxyUrl()}/v1/models/classifier`)).text(); // 401 on a route
      await own.flushLogs();
      const text = await metrics(own.statusUrl());
      expect(text).not.toContain('code="404"');
      expect(text).toContain(
        'kong_http_requests_total{service="127.0.0.1",route="rest-classifier",code="401",source="kong",workspace="default",consumer=""} 1',
      );
    } finally {
      await own.stop();
    }
  });

  it('records no per-request family whose flag is off', async () => {
    const own = await KongEmulator.start({
      config: withPrometheus({
        per_consumer: false,
        status_code_metrics: false,
        latency_metrics: false,
        bandwidth_metrics: false,
      }),
      plugins: PLUGINS,
    });
    try {
      await (await fetch(`${own.proxyUrl()}/v1/models/classifier`)).text();
      await own.flushLogs();
      const text = await metrics(own.statusUrl());
      expect(text).not.toMatch(/^kong_http_requests_total\{/m);
      expect(text).not.toMatch(/^kong_request_latency_ms_count\{/m);
      expect(text).not.toMatch(/^kong_bandwidth_bytes\{/m);
      expect(text).toContain('kong_datastore_reachable 1');
    } finally {
      await own.stop();
    }
  });

  it('leaves the consumer label empty without per_consumer', async () => {
    const own = await KongEmulator.start({
      config: withPrometheus({ per_consumer: false }),
      plugins: PLUGINS,
    });
    try {
      const authorization = `Bearer ${await mintToken('ops-console', { issuedAt: Math.floor(Date.now() / 1000) })}`;
      await (await fetch(`${own.proxyUrl()}/v1/models/classifier`, { headers: { authorization } })).text();
      await own.flushLogs();
      expect(await metrics(own.statusUrl())).toContain(
        'kong_http_requests_total{service="tf-serving-rest",route="rest-classifier",code="200",source="service",workspace="default",consumer=""} 1',
      );
    } finally {
      await own.stop();
    }
  });
});
