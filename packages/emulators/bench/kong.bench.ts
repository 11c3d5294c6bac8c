// The Kong emulator's hot path: added latency (p50, p99) and throughput through the proxy, next to calling the
// upstream directly, measured side by side in one run. Paths: direct; the proxy with no plugins; with jwt
// only, with and without the verified-token cache; with the full generated policy (correlation-id, jwt, the per-model plugin, request-size-limiting,
// acl, rate-limiting with limits raised out of reach, prometheus, file-log to a temp file). Rounds alternate
// between the paths so that a machine that slows down mid-run affects them alike. Latency: one request in
// flight at a time, into an HDR histogram (microseconds). Throughput: BENCH_CONCURRENCY requests in flight; each
// path's throughput against the bare proxy's is given for the whole run and, lowest to highest, by round.
// Upstream, proxy and client share this one Node process; its CPU time per request (user + system, all three
// together), and the main thread's alone (without V8's GC helper threads), are reported too, so the
// differences between paths read as what each path adds, wait aside.
//
// THESE FIGURES DESCRIBE THE EMULATOR, NOT KONG: Kong (nginx + LuaJIT) has its own, different costs.
//
// It measures the built emulator (dist/: `pnpm bench` and `bench:kong` build it first; after a change to src/,
// `pnpm build` before running the file directly):
//   pnpm --filter @modelgate/emulators bench:kong        (builds it and what it needs, then runs this file)
//   BENCH_SECONDS=2 BENCH_ROUNDS=5 BENCH_CONCURRENCY=32 tsx bench/kong.bench.ts
//   BENCH_ONLY='full policy$' node --cpu-prof --import tsx bench/kong.bench.ts   (one path, to profile it)
//   BENCH_SWEEP=1 tsx bench/kong.bench.ts       (adds jwt + each other plugin of the policy, one path each)
//   BENCH_SWEEP=without tsx bench/kong.bench.ts (adds the full policy less each plugin but jwt: what each adds)

import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, createServer, request as httpRequest } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_POLICY, DEFAULT_SECRETS, type GatewayConfig, kongConfig } from '@modelgate/policy';
import { build, type Histogram } from 'hdr-histogram-js';
// the built emulator, as `pnpm dev` and the CLI run it (tsx's transform of src/ adds its own per-closure cost)
import { KongEmulator } from '../dist/kong/index.js';
import { mintToken } from '../src/kong/testing/tokens.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 1);
// 8: with fewer, the full policy's ratio to the bare proxy moved by up to 0.1 between runs on the 2-core VM
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 8);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
/** Measure only the paths whose name matches this RegExp (the direct and no-plugin baselines always run). */
const ONLY = process.env.BENCH_ONLY === undefined ? undefined : new RegExp(process.env.BENCH_ONLY);
/** Add a path per plugin of the policy: jwt and that one plugin, to see what each costs on its own... */
const SWEEP = process.env.BENCH_SWEEP === '1';
/** ...or the full policy less that plugin, to see what each adds to the rest (its headers logged, counted). */
const SWEEP_WITHOUT = process.env.BENCH_SWEEP === 'without';
const PLUGINS = ['bundled', 'modelgate-model-access'];
const PATH = '/v1/models/classifier:predict';
const BODY = JSON.stringify({ instances: [[1, 2, 3, 4]] });
const ANSWER = JSON.stringify({ predictions: [[0.1, 0.9]] });
const DISCLAIMER =
  'These figures describe the emulator (a Node.js stand-in on this machine), not Kong: do not read them as Kong performance.';

interface BenchPath {
  name: string;
  port: number;
  headers: Record<string, string>;
  latency: Histogram;
  requests: number;
  seconds: number;
  /** Each round's throughput (req/s), to show how far a round's ratio strays from the whole run's. */
  roundRps: number[];
  /** CPU time (user + system, microseconds) this process spent in the throughput phases... */
  cpuMicros: number;
  /** ...and the part of it on the main thread, where client, proxy and upstream all run (no GC helpers). */
  mainThreadMicros: number;
  failures: number;
}

/** A TF-Serving-shaped REST upstream that answers every request at once. */
async function upstream(): Promise<{ port: number; close(): Promise<void> }> {
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': ANSWER.length });
      response.end(ANSWER);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The generated config with only the plugins named in `keep` (global, per consumer, per route). */
function withPlugins(config: GatewayConfig, keep: ReadonlySet<string>): GatewayConfig {
  const copy = structuredClone(config);
  const kept = <T extends { name: string }>(plugins: T[] | undefined) =>
    (plugins ?? []).filter((plugin) => keep.has(plugin.name));
  copy.plugins = kept(copy.plugins);
  for (const consumer of copy.consumers ?? []) consumer.plugins = kept(consumer.plugins);
  for (const service of copy.services ?? [])
    for (const route of service.routes ?? []) route.plugins = kept(route.plugins);
  if (keep.size === 0) delete copy.consumers;
  return copy;
}

/** file-log into the bench's temp dir, and rate limits no bench can reach. */
function benchable(config: GatewayConfig, logPath: string): GatewayConfig {
  const copy = structuredClone(config);
  const adjust = (plugin: { name: string; config?: unknown }) => {
    if (plugin.name === 'file-log') (plugin.config as { path: string }).path = logPath;
    if (plugin.name !== 'rate-limiting') return;
    const limits = plugin.config as Record<string, unknown>;
    for (const window of ['second', 'minute', 'hour', 'day', 'month', 'year'])
      if (typeof limits[window] === 'number') limits[window] = 1_000_000_000;
  };
  for (const plugin of copy.plugins ?? []) adjust(plugin);
  for (const consumer of copy.consumers ?? []) for (const plugin of consumer.plugins ?? []) adjust(plugin);
  return copy;
}

/** Every plugin name the generated config uses, anywhere. */
function pluginNames(config: GatewayConfig): string[] {
  const names = new Set((config.plugins ?? []).map((plugin) => plugin.name));
  for (const consumer of config.consumers ?? [])
    for (const plugin of consumer.plugins ?? []) names.add(plugin.name);
  for (const service of config.services ?? [])
    for (const route of service.routes ?? [])
      for (const plugin of route.plugins ?? []) names.add(plugin.name);
  return [...names];
}

/**
 * The client's keep-alive Agent, less the header object node builds for each answer to read its Keep-Alive
 * hint (keepSocketAlive, the method node documents for a subclass to override; the bench's sockets are never
 * idle long enough for the hint to matter). Node builds that object line by line, so the client's own parsing
 * of the lines the gateway adds (the full policy's rate-limit and correlation headers) was charged to the
 * gateway's paths: about 3 µs a request. The upstream's parsing of what the gateway forwards stays counted.
 */
class BenchAgent extends Agent {
  override keepSocketAlive(socket: Socket): boolean {
    socket.setKeepAlive(true, 1000);
    socket.unref();
    return true;
  }
}

const agent = new BenchAgent({ keepAlive: true, maxSockets: CONCURRENCY * 2 });

function send(path: BenchPath): Promise<number> {
  return new Promise((resolve, reject) => {
    const call = httpRequest(
      {
        host: '127.0.0.1',
        port: path.port,
        method: 'POST',
        path: PATH,
        agent,
        headers: { 'content-type': 'application/json', 'content-length': BODY.length, ...path.headers },
      },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
        response.on('error', reject);
      },
    );
    call.on('error', reject);
    call.end(BODY);
  });
}

/** One request in flight at a time for SECONDS: each call's latency into the path's histogram. */
async function measureLatency(path: BenchPath): Promise<void> {
  const end = performance.now() + SECONDS * 1000;
  while (performance.now() < end) {
    const started = performance.now();
    const status = await send(path);
    path.latency.recordValue(Math.max(1, Math.round((performance.now() - started) * 1000)));
    if (status !== 200) path.failures++;
  }
}

/** CONCURRENCY requests in flight for SECONDS: completed requests counted. */
async function measureThroughput(path: BenchPath): Promise<void> {
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const mainBefore = process.threadCpuUsage();
  const end = started + SECONDS * 1000;
  let requests = 0;
  const worker = async () => {
    while (performance.now() < end) {
      const status = await send(path);
      requests++;
      if (status !== 200) path.failures++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = (performance.now() - started) / 1000;
  path.requests += requests;
  path.seconds += seconds;
  path.roundRps.push(requests / seconds);
  const cpu = process.cpuUsage(cpuBefore);
  path.cpuMicros += cpu.user + cpu.system;
  const main = process.threadCpuUsage(mainBefore);
  path.mainThreadMicros += main.user + main.system;
}

const ms = (micros: number) => (micros / 1000).toFixed(3);

/** The lowest and highest of `path`'s per-round throughput against `base`'s in the same round. */
function roundSpread(path: BenchPath, base: BenchPath): string {
  const ratios = path.roundRps.map((rps, round) => rps / (base.roundRps[round] as number));
  return `${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}`;
}
const ratio = (value: number, base: number) => `${(value / base).toFixed(2)}x`;

async function main(): Promise<void> {
  console.log(DISCLAIMER);
  const rest = await upstream();
  const dir = await mkdtemp(join(tmpdir(), 'kong-bench-'));
  const generated = kongConfig(DEFAULT_POLICY, DEFAULT_SECRETS, {
    host: '127.0.0.1',
    restPort: rest.port,
    grpcPort: 1,
  });
  const config = benchable(generated, join(dir, 'audit.log'));
  const arms: { name: string; config: GatewayConfig; tokenCacheEntries?: number }[] = [
    { name: 'proxy, no plugins', config: withPlugins(config, new Set()) },
    { name: 'proxy, jwt', config: withPlugins(config, new Set(['jwt'])) },
    {
      name: 'proxy, jwt, no token cache',
      config: withPlugins(config, new Set(['jwt'])),
      tokenCacheEntries: 0,
    },
    { name: 'proxy, full policy', config },
  ];
  if (SWEEP)
    for (const name of pluginNames(config).filter((each) => each !== 'jwt'))
      arms.push({
        name: `proxy, jwt + ${name}`,
        config: withPlugins(config, new Set(['jwt', name])),
      });
  if (SWEEP_WITHOUT) {
    const all = pluginNames(config);
    // jwt stays: without a consumer the per-model plugin refuses every request
    for (const name of all.filter((each) => each !== 'jwt'))
      arms.push({
        name: `proxy, full policy without ${name}`,
        config: withPlugins(config, new Set(all.filter((each) => each !== name))),
      });
  }
  const measured = arms.filter((arm, i) => i === 0 || ONLY === undefined || ONLY.test(arm.name));
  const emulators = await Promise.all(
    measured.map((arm) =>
      KongEmulator.start({ config: arm.config, plugins: PLUGINS, tokenCacheEntries: arm.tokenCacheEntries }),
    ),
  );
  const authorization = `Bearer ${await mintToken('ops-console', { issuedAt: Math.floor(Date.now() / 1000) })}`;
  const portOf = (emulator: KongEmulator) => Number(new URL(emulator.proxyUrl()).port);
  const path = (name: string, port: number, headers: Record<string, string> = {}): BenchPath => ({
    name,
    port,
    headers,
    latency: build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: 60_000_000,
      numberOfSignificantValueDigits: 3,
    }),
    requests: 0,
    seconds: 0,
    roundRps: [],
    cpuMicros: 0,
    mainThreadMicros: 0,
    failures: 0,
  });
  // every path sends the same request, token included (a gateway without jwt forwards it as it is), so the
  // difference between two paths is what the gateway does, not what travels
  const paths = [
    path('direct (upstream)', rest.port, { authorization }),
    ...measured.map((arm, i) => path(arm.name, portOf(emulators[i] as KongEmulator), { authorization })),
  ];
  try {
    for (const each of paths) await send(each); // warm connections and caches once
    for (let round = 0; round < ROUNDS; round++) {
      const order = paths.map((_, i) => paths[(i + round) % paths.length] as BenchPath);
      for (const each of order) await measureLatency(each);
      for (const each of order) await measureThroughput(each);
      process.stderr.write(`round ${round + 1}/${ROUNDS} done\n`);
    }
  } finally {
    await Promise.all(emulators.map((emulator) => emulator.stop()));
    agent.destroy();
    await rest.close();
    await rm(dir, { recursive: true, force: true });
  }
  const [direct, proxied] = paths as [BenchPath, BenchPath];
  const base = {
    p50: direct.latency.getValueAtPercentile(50),
    p99: direct.latency.getValueAtPercentile(99),
    rps: direct.requests / direct.seconds,
  };
  console.log(
    `Kong emulator bench: POST ${PATH}, ${ROUNDS} rounds x ${SECONDS}s per phase, latency at 1 in flight, throughput at ${CONCURRENCY} in flight (node ${process.version})`,
  );
  const rows = paths.map((each) => {
    const p50 = each.latency.getValueAtPercentile(50);
    const p99 = each.latency.getValueAtPercentile(99);
    const rps = each.requests / each.seconds;
    return {
      path: each.name,
      'p50 ms': ms(p50),
      'p99 ms': ms(p99),
      'added p50 ms': ms(p50 - base.p50),
      'added p99 ms': ms(p99 - base.p99),
      'p50 / direct': ratio(p50, base.p50),
      'p99 / direct': ratio(p99, base.p99),
      'req/s': rps.toFixed(0),
      'req/s / direct': ratio(rps, base.rps),
      // what the issue's goal reads: the plugins' cost against the bare proxy, side by side in this run...
      'req/s / no plugins': ratio(rps, proxied.requests / proxied.seconds),
      // ...and its lowest and highest over the rounds (each against the bare proxy's same round): how far one
      // round, or a run of few rounds, can be trusted on this machine
      'rounds, lo-hi': roundSpread(each, proxied),
      // client, proxy and upstream together: the difference between two paths is what the proxy adds
      'CPU µs/req': (each.cpuMicros / each.requests).toFixed(1),
      'main thread µs/req': (each.mainThreadMicros / each.requests).toFixed(1),
      'non-200': each.failures,
    };
  });
  console.table(rows);
  console.log(DISCLAIMER);
}

await main();
