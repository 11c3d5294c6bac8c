import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttp2Server, type Http2Server } from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import { type KongPluginSchema, type NormalizedKongConfig, PRODUCT_VERSIONS } from '@modelgate/policy';
import { adminApiHandler, statusApiHandler } from './admin-api.js';
import { FileLogWriters } from './file-log-writer.js';
import { GrpcUpstreams } from './grpc-proxy.js';
import { type KongClock, SYSTEM_CLOCK } from './kong-clock.js';
import { enabledPluginSchemas, loadKongConfig } from './kong-config-loader.js';
import type { KongListener } from './kong-env.js';
import type { KongWorkspace } from './kong-log-serializer.js';
import { KongSnapshot } from './kong-snapshot.js';
import { PluginChain } from './plugin-chain.js';
import { aclPlugin } from './plugins/acl.js';
import { correlationIdPlugin } from './plugins/correlation-id.js';
import { fileLogPlugin } from './plugins/file-log.js';
import { jwtPlugin } from './plugins/jwt.js';
import { DEFAULT_TOKEN_CACHE_ENTRIES, VerifiedTokenCache } from './plugins/jwt-token-cache.js';
import { modelAccessPlugin } from './plugins/model-access.js';
import { KongPrometheusMetrics } from './plugins/prometheus.js';
import { rateLimitingPlugin } from './plugins/rate-limiting.js';
import { RateLimitCounters } from './plugins/rate-limiting-counters.js';
import { requestSizeLimitingPlugin } from './plugins/request-size-limiting.js';
import { ProxyPipeline } from './proxy-pipeline.js';

// A DB-less Kong 3.9 stand-in: validates the declarative config before anything listens (a refused config never
// starts the proxy), then serves the proxy (HTTP/1.1 listeners, and HTTP/2 cleartext listeners for gRPC), the
// Admin API and the Status API.

export interface KongEmulatorOptions {
  /** The declarative config as parsed JSON (kong.json, or kongConfig(...)). */
  config: unknown;
  /** KONG_PLUGINS: `bundled` and the custom plugins to enable. */
  plugins?: readonly string[];
  proxyListen?: readonly KongListener[];
  adminListen?: readonly KongListener[];
  statusListen?: readonly KongListener[];
  /** Where jwt and rate-limiting read the time. */
  clock?: KongClock;
  /** Verified jwt tokens kept for speed (0: verify every request). Flushed on POST /config. */
  tokenCacheEntries?: number;
}

export const DEFAULT_EMULATOR_LISTENERS = {
  proxy: [
    { host: '127.0.0.1', port: 0, http2: false },
    { host: '127.0.0.1', port: 0, http2: true },
  ],
  admin: [{ host: '127.0.0.1', port: 0, http2: false }],
  status: [{ host: '127.0.0.1', port: 0, http2: false }],
} as const satisfies Record<string, readonly KongListener[]>;

export type KongListenerRole = 'proxy' | 'admin' | 'status';

export interface BoundListener extends KongListener {
  role: KongListenerRole;
}

type AnyServer = Server | Http2Server;

/** nginx's keepalive_timeout (its default, 75 s: Kong's template sets none). */
export const KEEPALIVE_TIMEOUT_MS = 75_000;
/** Kong's nginx_http_keepalive_requests: requests on one client connection before nginx closes it. */
export const KEEPALIVE_REQUESTS = 10_000;

/**
 * An HTTP/1.1 listener keeps an idle client connection as nginx does under Kong (node's own default closes it
 * after 5 s, which a client pool idle between two load phases would meet as a reset connection).
 */
function withNginxKeepalive(server: Server): Server {
  server.keepAliveTimeout = KEEPALIVE_TIMEOUT_MS;
  server.maxRequestsPerSocket = KEEPALIVE_REQUESTS;
  return server;
}

export class KongEmulator {
  private snapshot: KongSnapshot;
  private readonly servers: { server: AnyServer; listener: BoundListener }[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly grpcUpstreams = new GrpcUpstreams();
  private readonly fileLogWriters = new FileLogWriters();
  /** The node's default workspace (DB-less Kong makes one at start). */
  private readonly workspace: KongWorkspace = { id: randomUUID(), name: 'default' };
  private readonly metrics = new KongPrometheusMetrics(randomUUID(), PRODUCT_VERSIONS.kong);
  private pipeline: ProxyPipeline | undefined;
  private readonly tokenCache: VerifiedTokenCache | undefined;
  private requests = 0;

  private constructor(
    config: NormalizedKongConfig,
    private readonly pluginSchemas: readonly KongPluginSchema[],
    private readonly clock: KongClock,
    tokenCacheEntries: number,
  ) {
    this.snapshot = new KongSnapshot(config);
    this.tokenCache = tokenCacheEntries > 0 ? new VerifiedTokenCache(tokenCacheEntries) : undefined;
  }

  /** Validates the config (throws KongConfigError or KongPluginsError before listening), then listens. */
  static async start(options: KongEmulatorOptions): Promise<KongEmulator> {
    const schemas = enabledPluginSchemas(options.plugins ?? ['bundled']);
    const config = loadKongConfig(options.config, schemas);
    const emulator = new KongEmulator(
      config,
      schemas,
      options.clock ?? SYSTEM_CLOCK,
      options.tokenCacheEntries ?? DEFAULT_TOKEN_CACHE_ENTRIES,
    );
    try {
      await emulator.listen(options);
    } catch (error) {
      await emulator.stop();
      throw error;
    }
    return emulator;
  }

  /** The configuration in force, as the validator normalized it. */
  get configuration(): NormalizedKongConfig {
    return this.snapshot.config;
  }

  get configurationHash(): string {
    return this.snapshot.hash;
  }

  /** Replaces the whole configuration at once (POST /config); requests in flight finish on the old one. */
  replaceConfig(config: unknown): NormalizedKongConfig {
    const normalized = loadKongConfig(config, this.pluginSchemas);
    this.snapshot = new KongSnapshot(normalized);
    this.tokenCache?.flush();
    return normalized;
  }

  listeners(): BoundListener[] {
    return this.servers.map(({ listener }) => listener);
  }

  /** http://host:port of the first HTTP/1.1 proxy listener. */
  proxyUrl(): string {
    return this.urlOf('proxy', false);
  }

  /** host:port of the first HTTP/2 proxy listener (for gRPC clients). */
  grpcAddress(): string {
    const listener = this.find('proxy', true);
    return `${listener.host}:${listener.port}`;
  }

  adminUrl(): string {
    return this.urlOf('admin', false);
  }

  statusUrl(): string {
    return this.urlOf('status', false);
  }

  /** The prometheus plugin's exposition text (what GET /metrics answers). */
  metricsText(): Promise<string> {
    return this.metrics.text();
  }

  /** Resolves when every log line of the requests finished so far is written. */
  async flushLogs(): Promise<void> {
    await this.pipeline?.settled();
    await this.fileLogWriters.flush();
  }

  /**
   * Stops listening, cuts open connections, then writes every pending file-log line before resolving, and
   * says on stderr how many lines each path lost, if any.
   */
  async stop(): Promise<void> {
    this.grpcUpstreams.close();
    const closing = this.servers.map(
      ({ server }) => new Promise<void>((resolve) => server.close(() => resolve())),
    );
    for (const socket of this.sockets) socket.destroy();
    await Promise.all(closing);
    this.servers.length = 0;
    await this.flushLogs();
    // the first failure of each path was said as it happened; what it cost in all is said once, at the end
    for (const { path, lines, error } of this.fileLogWriters.losses())
      console.error(
        `kong emulator: file-log lost ${lines} line${lines === 1 ? '' : 's'} for ${path}` +
          (error ? ` (last: ${error.message})` : ''),
      );
  }

  private find(role: KongListenerRole, http2: boolean): BoundListener {
    const listener = this.listeners().find(
      (candidate) => candidate.role === role && candidate.http2 === http2,
    );
    if (!listener) throw new Error(`no ${http2 ? 'http2 ' : ''}${role} listener is configured`);
    return listener;
  }

  private urlOf(role: KongListenerRole, http2: boolean): string {
    const listener = this.find(role, http2);
    const host = listener.host.includes(':') ? `[${listener.host}]` : listener.host;
    return `http://${host}:${listener.port}`;
  }

  private async listen(options: KongEmulatorOptions): Promise<void> {
    const pipeline = new ProxyPipeline({
      snapshot: () => this.snapshot,
      chain: new PluginChain([
        correlationIdPlugin(),
        jwtPlugin(this.clock, this.tokenCache),
        modelAccessPlugin(this.clock),
        requestSizeLimitingPlugin(),
        aclPlugin(),
        rateLimitingPlugin(this.clock, new RateLimitCounters()),
      ]),
      grpcUpstreams: this.grpcUpstreams,
      clock: this.clock,
      logPlugins: [this.metrics.plugin(this.workspace), fileLogPlugin(this.fileLogWriters, this.workspace)],
    });
    this.pipeline = pipeline;
    const adminHost = {
      current: () => this.snapshot,
      replace: (config: unknown) => this.replaceConfig(config),
      totalRequests: () => this.requests,
      activeConnections: () => this.sockets.size,
      metrics: () => this.metrics.text(),
    };
    const admin = adminApiHandler(adminHost);
    const status = statusApiHandler(adminHost);
    const failed = (response: ServerResponse, error: unknown) => {
      console.error('kong emulator: request failed', error);
      if (!response.headersSent) response.writeHead(500);
      response.end();
    };
    for (const listener of options.proxyListen ?? DEFAULT_EMULATOR_LISTENERS.proxy) {
      let port = 0; // the bound port, known once listening
      const handle = (request: IncomingMessage, response: ServerResponse) => {
        this.requests++;
        pipeline.handle(request, response, port).catch((error: unknown) => failed(response, error));
      };
      const server: AnyServer = listener.http2
        ? createHttp2Server((request, response) =>
            handle(request as unknown as IncomingMessage, response as unknown as ServerResponse),
          )
        : withNginxKeepalive(createServer(handle));
      port = (await this.bind(server, listener, 'proxy')).port;
    }
    for (const [role, handler, listeners] of [
      ['admin', admin, options.adminListen ?? DEFAULT_EMULATOR_LISTENERS.admin],
      ['status', status, options.statusListen ?? DEFAULT_EMULATOR_LISTENERS.status],
    ] as const) {
      for (const listener of listeners) {
        const server = withNginxKeepalive(
          createServer((request, response) => {
            handler(request, response).catch((error: unknown) => failed(response, error));
          }),
        );
        await this.bind(server, listener, role);
      }
    }
  }

  private bind(server: AnyServer, listener: KongListener, role: KongListenerRole): Promise<BoundListener> {
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(listener.port, listener.host, () => {
        server.off('error', reject);
        const { port } = server.address() as AddressInfo;
        const bound = { ...listener, port, role };
        this.servers.push({ server, listener: bound });
        resolve(bound);
      });
    });
  }
}
