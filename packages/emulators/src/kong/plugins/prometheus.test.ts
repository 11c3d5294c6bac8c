import type { GatewayConfig } from '@modelgate/policy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KongEmulator } from '../kong-emulator.js';
import type { KongLogRecord } from '../kong-log-record.js';
import { localGatewayConfig } from '../testing/local-gateway.js';
import { defaultKongConfig, requestContext } from '../testing/request-context.js';
import { mintToken } from '../testing/tokens.js';
import { startEchoUpstream, type TestUpstream } from '../testing/upstreams.js';
import { compareBytewise, KongPrometheusMetrics } from './prometheus.js';

// The prometheus plugin: Kong's metric names and labels on the Status API's (and Admin API's) /metrics, each
// per-request family only when its flag is on.

const PLUGINS = ['bundled', 'modelgate-model-access'];

/** exporter.lua's two bucket lists as the page writes them: Kong's own latency, and upstream/request latency. */
const KONG_BOUNDS = [
  ...['1', '2', '5', '7', '10', '15', '20', '30', '50', '75', '100', '200', '500', '750', '1000', '3000'],
  ...['6000', '+Inf'],
];
const UPSTREAM_BOUNDS = [
  ...['25', '50', '80', '100', '250', '400', '700', '1000', '2000', '5000', '10000', '30000', '60000'],
  '+Inf',
];

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
      [
        ...text.matchAll(
          new RegExp(
            `^${family}_bucket\\{service="tf-serving-rest",route="rest-classifier",workspace="default",le="([^"]+)"\\}`,
            'gm',
          ),
        ),
      ].map((found) => found[1]);
    // a series has bucket keys from the first bound at or above its smallest observation up to +Inf: how many
    // depends on how fast this machine answered, the bounds themselves do not
    for (const [family, bounds] of [
      ['kong_kong_latency_ms', KONG_BOUNDS],
      ['kong_upstream_latency_ms', UPSTREAM_BOUNDS],
      ['kong_request_latency_ms', UPSTREAM_BOUNDS],
    ] as const) {
      const found = buckets(family);
      expect(found.length).toBeGreaterThan(1);
      expect(found).toEqual(bounds.slice(bounds.length - found.length));
    }
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

describe("the page, as Kong's nginx-lua-prometheus writes it", () => {
  const config = defaultKongConfig();
  const flags = {
    per_consumer: true,
    status_code_metrics: true,
    latency_metrics: true,
    bandwidth_metrics: true,
  } as Parameters<ReturnType<KongPrometheusMetrics['plugin']>['log']>[1];

  /** A proxied request's record: request 40 ms, upstream 30 ms, Kong's own 10 ms. */
  function proxied(service: string): KongLogRecord {
    const context = requestContext(config, { path: '/v1/models/classifier' });
    context.service = { ...context.service, name: service };
    context.route = { ...context.route, name: 'rest-classifier' };
    return {
      request: context.request,
      requestId: '0123456789abcdef0123456789abcdef',
      requestUri: '/v1/models/classifier',
      origin: 'http://localhost:8000',
      requestSize: 120,
      context,
      startedAt: 0,
      arrivedHr: 0,
      upstreamSentHr: 5,
      upstreamAnsweredHr: 35,
      endedHr: 40,
      source: 'service',
      status: 200,
      responseHeaders: [],
      responseSize: 300,
    };
  }

  it('sorts every key byte-wise with HELP and TYPE before a family, le last, and no bucket below the smallest value', async () => {
    const metrics = new KongPrometheusMetrics('node-1', '3.9.3');
    const log = metrics.plugin({ id: 'ws', name: 'default' }).log;
    log(proxied('b "quoted" \\ service'), flags, {} as never);
    log(proxied('a-service'), flags, {} as never);
    const text = await metrics.text();
    expect([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((found) => `${found[1]} ${found[2]}`)).toEqual([
      'kong_bandwidth_bytes counter',
      'kong_datastore_reachable gauge',
      'kong_http_requests_total counter',
      'kong_kong_latency_ms histogram',
      'kong_nginx_metric_errors_total counter',
      'kong_node_info gauge',
      'kong_request_latency_ms histogram',
      'kong_upstream_latency_ms histogram',
    ]);
    const lines = text.split('\n');
    const at = (line: string) => lines.indexOf(line);
    // HELP then TYPE right before the family's first key
    const help = at(
      '# HELP kong_kong_latency_ms Latency added by Kong and enabled plugins for each service/route in Kong',
    );
    expect(lines[help + 1]).toBe('# TYPE kong_kong_latency_ms histogram');
    const labels = 'service="a-service",route="rest-classifier",workspace="default"';
    expect(lines[help + 2]).toBe(`kong_kong_latency_ms_bucket{${labels},le="10"} 1`);
    // Kong's own 10 ms: no key for the bounds 1, 2, 5 and 7
    expect(text).not.toContain(`kong_kong_latency_ms_bucket{${labels},le="7"}`);
    expect(lines.slice(help + 2, help + 16)).toEqual([
      ...[10, 15, 20, 30, 50, 75, 100, 200, 500, 750, 1000, 3000, 6000].map(
        (bound) => `kong_kong_latency_ms_bucket{${labels},le="${bound}"} 1`,
      ),
      `kong_kong_latency_ms_bucket{${labels},le="+Inf"} 1`,
    ]);
    // the keys sort as a whole: every series' buckets, then every _count, then every _sum
    const quoted = 'service="b \\"quoted\\" \\\\ service",route="rest-classifier",workspace="default"';
    const order = [
      `kong_kong_latency_ms_bucket{${quoted},le="+Inf"} 1`,
      `kong_kong_latency_ms_count{${labels}} 1`,
      `kong_kong_latency_ms_count{${quoted}} 1`,
      `kong_kong_latency_ms_sum{${labels}} 10`,
      `kong_kong_latency_ms_sum{${quoted}} 10`,
    ].map(at);
    expect(order[0]).toBeGreaterThan(help);
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(order[4]).toBe((order[0] as number) + 4);
    // the request's 40 ms is above the first upstream bucket (25)
    expect(text).not.toContain(`kong_request_latency_ms_bucket{${labels},le="25"}`);
    expect(text).toContain(`kong_request_latency_ms_bucket{${labels},le="50"} 1`);
    expect(text).toContain(`kong_upstream_latency_ms_sum{${labels}} 30`);
    expect(text).toContain(
      'kong_bandwidth_bytes{service="a-service",route="rest-classifier",direction="egress",workspace="default",consumer=""} 300',
    );
    expect(text).toContain('kong_nginx_metric_errors_total 0');
    // a request of 0 ms counts in every bucket: both of exporter.lua's lists in full
    const instant = proxied('c-instant');
    instant.upstreamSentHr = 0;
    instant.upstreamAnsweredHr = 0;
    instant.endedHr = 0;
    log(instant, flags, {} as never);
    const page = await metrics.text();
    const bounds = (family: string) =>
      [
        ...page.matchAll(
          new RegExp(
            `^${family}_bucket\\{service="c-instant",route="rest-classifier",workspace="default",le="([^"]+)"\\} 1$`,
            'gm',
          ),
        ),
      ].map((found) => found[1]);
    expect(bounds('kong_kong_latency_ms')).toEqual(KONG_BOUNDS);
    expect(bounds('kong_upstream_latency_ms')).toEqual(UPSTREAM_BOUNDS);
    expect(bounds('kong_request_latency_ms')).toEqual(UPSTREAM_BOUNDS);
    expect(text).toContain('kong_node_info{node_id="node-1",version="3.9.3"} 1');
  });

  it('counts one status apart by source, and one route apart by consumer', async () => {
    const metrics = new KongPrometheusMetrics('node-1', '3.9.3');
    const log = metrics.plugin({ id: 'ws', name: 'default' }).log;
    const record = proxied('svc');
    const fromKong = { ...proxied('svc'), source: 'exit' as const, upstreamSentHr: undefined };
    // the same route and service objects for every request, as the configuration in force gives them
    fromKong.context = record.context;
    const asAlice = { ...record, context: { ...(record.context as NonNullable<KongLogRecord['context']>) } };
    asAlice.context.consumer = {
      ...(config.consumers[0] as NonNullable<typeof asAlice.context.consumer>),
      username: 'alice',
    };
    for (const each of [record, record, fromKong, asAlice]) log(each, flags, {} as never);
    const text = await metrics.text();
    const count = (source: string, consumer: string) =>
      text.match(
        new RegExp(
          `^kong_http_requests_total\\{service="svc",route="rest-classifier",code="200",source="${source}",workspace="default",consumer="${consumer}"\\} (\\d+)$`,
          'm',
        ),
      )?.[1];
    expect([count('service', ''), count('kong', ''), count('service', 'alice')]).toEqual(['2', '1', '1']);
  });

  it('sorts as Lua does, byte-wise in UTF-8: a name above U+FFFF after one in U+E000-U+FFFF', async () => {
    const metrics = new KongPrometheusMetrics('node-1', '3.9.3');
    const log = metrics.plugin({ id: 'ws', name: 'default' }).log;
    log(proxied('svc-\u{1F680}'), flags, {} as never); // F0 9F 9A 80 in UTF-8, D83D DE80 in UTF-16
    log(proxied('svc-\uFB01'), flags, {} as never); // EF AC 81 in UTF-8
    const text = await metrics.text();
    expect(text.indexOf('service="svc-\uFB01"')).toBeLessThan(text.indexOf('service="svc-\u{1F680}"'));
  });
});

describe('compareBytewise', () => {
  it('orders strings as their UTF-8 bytes compare', () => {
    const words = [
      'a',
      'ab',
      'b',
      '\u00e9',
      '\uFB01',
      '\u{1F680}',
      '\u{1F680}a',
      '\uD7FF',
      '\uE000',
      '\uFFFF',
      'Z',
      '',
      // lone surrogates (a JSON config can carry one): UTF-8 writes each as U+FFFD
      '\uDC00',
      '\uD800x',
      '\uFFFDy',
      '\u{10000}',
    ];
    const expected = [...words].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect([...words].sort(compareBytewise)).toEqual(expected);
    // and not as JavaScript's own comparison would
    expect([...words].sort()).not.toEqual(expected);
  });
});
