import { describe, expect, it } from 'vitest';
import type { KongLogRecord } from './kong-log-record.js';
import { kongLogLine, serializeKongLog } from './kong-log-serializer.js';
import { MAX_KEPT_LOWER_CASE_NAMES } from './kong-request.js';
import { defaultKongConfig, requestContext } from './testing/request-context.js';

// file-log's line (kongLogLine: the table's fields as JSON, with the route, service and consumer JSON cached per
// configuration spliced in) against kong.log.serialize's table (serializeKongLog): the line must parse to
// exactly what JSON.stringify makes of the table, whatever the request held. A guard for any faster writer.

const config = defaultKongConfig();
const WORKSPACE = { id: '6a1f1ca9-e668-4d6b-9fa4-29be7c2e6405', name: 'default' };

function record(change: (record: KongLogRecord) => void = () => {}): KongLogRecord {
  const context = requestContext(config, {
    path: '/v1/models/classifier:predict',
    method: 'POST',
    rawHeaders: ['Content-Type', 'application/json', 'Authorization', 'Bearer a.b.c', 'Host', 'gw:8000'],
  });
  const consumer = config.consumers[0] ?? null;
  context.consumer = consumer;
  context.credential = { id: '55a3647f-814e-47ed-969e-76821536fad2', key: 'ops-console' };
  context.serializeValues.set('correlation_id', 'b98abf08-dc62-43f1-b74a-ad86fbb04aa7#6');
  context.serializeValues.set('model', 'classifier');
  const base: KongLogRecord = {
    request: context.request,
    requestId: '5d0177e62a7bd5917ba4f410b9fddd47',
    requestUri: '/v1/models/classifier:predict',
    origin: 'http://127.0.0.1:8000',
    requestSize: 817,
    context,
    startedAt: 1_796_306_550_170,
    arrivedHr: 10,
    upstreamSentHr: 11.2,
    upstreamAnsweredHr: 14.9,
    endedHr: 15.3,
    upstreamUri: '/v1/models/classifier:predict',
    upstreamStatus: 200,
    tries: [{ balancer_start: 1_796_306_550_171, balancer_latency: 0, ip: '127.0.0.1', port: 8501 }],
    source: 'service',
    status: 200,
    responseHeaders: [
      'Content-Type',
      'application/json',
      'Via',
      '1.1 kong/3.9.3',
      'X-Kong-Proxy-Latency',
      '1',
    ],
    responseSize: 578,
  };
  change(base);
  return base;
}

const CASES: [string, KongLogRecord][] = [
  ['a proxied request', record()],
  [
    'a refusal: no upstream, no tries, no consumer',
    record((r) => {
      r.upstreamSentHr = undefined;
      r.upstreamAnsweredHr = undefined;
      r.upstreamStatus = undefined;
      r.tries = undefined;
      r.source = 'exit';
      r.status = 401;
      if (r.context) {
        r.context.consumer = null;
        r.context.credential = null;
      }
    }),
  ],
  [
    'no route matched',
    record((r) => {
      r.context = null;
      r.upstreamUri = undefined;
    }),
  ],
  [
    'repeated headers both ways, and names like Object.prototype members',
    record((r) => {
      r.request.rawHeaders = ['X-Trace', 'one', 'x-trace', 'two', 'Constructor', 'c', '__proto__', 'p'];
      r.responseHeaders = ['Set-Cookie', 'a=1', 'Set-Cookie', 'b=2', 'toString', 't'];
    }),
  ],
  [
    'values JSON must escape: quotes, backslashes, control characters, a lone surrogate, and UTF-8',
    record((r) => {
      r.request.rawHeaders = [
        'X-Quote',
        'say "hi" \\ there',
        'X-Tab',
        'a\tb\u0001',
        'X-Text',
        'Grüße 😀 \ud800',
      ];
      r.requestUri = '/v1/models/classifier:predict?q="x"&flag&n=1&n=2&bad=%E0%A4%A';
      if (r.context) r.context.serializeValues.set('model', 'cla"ss\\ifier\n');
    }),
  ],
  [
    'HTTP/2 pseudo-headers and a redacted Proxy-Authorization',
    record((r) => {
      r.request.rawHeaders = [
        ':method',
        'POST',
        ':path',
        '/x',
        'proxy-authorization',
        'Basic eA==',
        'authorization',
        'x',
      ];
    }),
  ],
  [
    'a serialize value named like a field',
    record((r) => {
      r.context?.serializeValues.set('source', 'plugin');
    }),
  ],
];

describe('kongLogLine', () => {
  it.each(CASES)('parses to JSON.stringify of serializeKongLog: %s', (_, each) => {
    const line = kongLogLine(each, WORKSPACE);
    expect(line).not.toContain('\n');
    expect(JSON.parse(line)).toEqual(JSON.parse(JSON.stringify(serializeKongLog(each, WORKSPACE))));
  });

  it('keeps the credentials out', () => {
    const line = kongLogLine(record(), WORKSPACE);
    expect(line).not.toContain('Bearer');
    expect(JSON.parse(line).request.headers.authorization).toBe('REDACTED');
  });
});

describe('serializeKongLog, as kong.log.serialize reads the request and the answer', () => {
  const query = (uri: string) =>
    (
      serializeKongLog(
        record((r) => (r.requestUri = uri)),
        WORKSPACE,
      ).request as { querystring: object }
    ).querystring;

  it('unescapes query arguments as ngx.req.get_uri_args does: + is a space, a bad escape stays as sent', () => {
    expect(query('/v1/models/m?a=%zz+%41&b=1+2&c=%E2%82%ac&d=%&e=50%25&f=%4&g=%2B+')).toEqual({
      a: '%zz A',
      b: '1 2',
      c: '€',
      d: '%',
      e: '50%',
      f: '%4',
      g: '+ ',
    });
    // a name is unescaped the same way; bytes that make no UTF-8 read as U+FFFD (Kong logs the raw byte)
    expect(query('/x?na%6De+1=v&raw=%FF')).toEqual({ 'name 1': 'v', raw: '\ufffd' });
  });

  it('leaves out arguments without a name, and keeps the rest as they come', () => {
    expect(query('/x?=x&&k&=&y=&k=2')).toEqual({ k: [true, '2'], y: '' });
  });

  it('reads the first 100 named arguments, as lua_max_uri_args does by default', () => {
    const args = Array.from({ length: 120 }, (_, i) => `a${i}=${i}`);
    const table = query(`/x?=skipped&${args.join('&')}`) as Record<string, string>;
    expect(Object.keys(table)).toHaveLength(100);
    expect(table.a99).toBe('99');
    expect(table.a100).toBeUndefined();
    const repeated = query(`/x?${Array.from({ length: 150 }, (_, i) => `n=${i}`).join('&')}`) as {
      n: string[];
    };
    expect(repeated.n).toHaveLength(100);
  });

  it('keeps a header named like an Object.prototype member as an own key', () => {
    const logged = serializeKongLog(
      record((r) => {
        r.request.rawHeaders = ['X-A', '1', 'Constructor', 'c', '__proto__', 'p'];
        r.responseHeaders = ['__proto__', 'q'];
      }),
      WORKSPACE,
    ) as { request: { headers: object }; response: { headers: object } };
    for (const [headers, value] of [
      [logged.request.headers, 'p'],
      [logged.response.headers, 'q'],
    ] as const) {
      expect(Object.hasOwn(headers, '__proto__')).toBe(true);
      expect(Object.getOwnPropertyDescriptor(headers, '__proto__')?.value).toBe(value);
    }
    expect(Object.getOwnPropertyDescriptor(logged.request.headers, 'constructor')?.value).toBe('c');
  });

  it('reads the first 100 request header lines, repeats counted one by one', () => {
    const rawHeaders = [':method', 'GET', 'X-Twice', '1', 'x-twice', '2'];
    for (let i = 0; i < 110; i++) rawHeaders.push(`X-H${i}`, String(i));
    const logged = serializeKongLog(
      record((r) => (r.request.rawHeaders = rawHeaders)),
      WORKSPACE,
    ) as { request: { headers: Record<string, unknown> } };
    expect(Object.keys(logged.request.headers)).toHaveLength(99);
    expect(logged.request.headers['x-twice']).toEqual(['1', '2']);
    expect(logged.request.headers['x-h97']).toBe('97');
    expect(logged.request.headers['x-h98']).toBeUndefined();
  });

  it('lower-cases every name, past as many names as it keeps lower-cased', () => {
    // more distinct names than lowerCaseName keeps, in 99-line requests (the first line is Kong's 100th)
    const names = Array.from({ length: MAX_KEPT_LOWER_CASE_NAMES + 200 }, (_, i) => `X-Name-${i}`);
    for (let from = 0; from < names.length; from += 99) {
      const some = names.slice(from, from + 99);
      const logged = serializeKongLog(
        record((r) => (r.request.rawHeaders = some.flatMap((name) => [name, name]))),
        WORKSPACE,
      ) as { request: { headers: Record<string, unknown> } };
      expect(logged.request.headers).toEqual(
        Object.fromEntries(some.map((name) => [name.toLowerCase(), name])),
      );
    }
  });

  it('reads an HTTP/2 request as nginx 1.25 keeps it: :authority as host, the cookie fields joined', () => {
    const logged = serializeKongLog(
      record((r) => {
        r.request.httpVersion = 2;
        r.request.rawHeaders = [
          ':method',
          'POST',
          ':scheme',
          'http',
          ':authority',
          'gw:9080',
          ':path',
          '/tensorflow.serving.PredictionService/Predict',
          'cookie',
          'a=1',
          'content-type',
          'application/grpc',
          'Cookie',
          'b=2',
        ];
      }),
      WORKSPACE,
    ) as { request: { headers: Record<string, unknown> } };
    expect(logged.request.headers).toEqual({
      host: 'gw:9080',
      'content-type': 'application/grpc',
      cookie: 'a=1; b=2',
    });
  });

  it('adds the connection ngx.resp.get_headers reports, and chunked when the answer was', () => {
    const answer = (change: (r: KongLogRecord) => void) =>
      (serializeKongLog(record(change), WORKSPACE).response as { headers: Record<string, unknown> }).headers;
    expect(answer(() => {})).toEqual({
      connection: 'keep-alive',
      'content-type': 'application/json',
      via: '1.1 kong/3.9.3',
      'x-kong-proxy-latency': '1',
    });
    expect(answer((r) => (r.keepAlive = false))).toMatchObject({ connection: 'close' });
    expect(answer((r) => (r.chunked = true))).toMatchObject({ 'transfer-encoding': 'chunked' });
    expect(answer(() => {})).not.toHaveProperty('transfer-encoding');
    // those count towards the 100 lines: with 120 answer lines, 98 of them are read
    const many = answer((r) => {
      r.chunked = true;
      r.responseHeaders = Array.from({ length: 120 }, (_, i) => [`X-A${i}`, String(i)]).flat();
    });
    expect(Object.keys(many)).toHaveLength(100);
    expect(many['x-a97']).toBe('97');
    expect(many['x-a98']).toBeUndefined();
  });
});
