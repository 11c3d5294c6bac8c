import { KONG_PORTS, kongEnvironment, PRODUCT_VERSIONS } from '@modelgate/policy';
import { AbstractStartedContainer, GenericContainer, type StartedTestContainer, Wait } from 'testcontainers';

// Kong 3.9.3, DB-less, in the shape of testcontainers-node's own modules: the compiled declarative config and
// the modelgate-model-access plugin copied in, an http2 listener for plaintext gRPC, admin and status on all
// interfaces, ready on GET /status/ready, the audit log readable.

export const KONG_IMAGE = `kong:${PRODUCT_VERSIONS.kong}`;
export const KONG_DECLARATIVE_CONFIG_PATH = '/kong/declarative/kong.json';
export const KONG_PLUGIN_DIR = '/opt/modelgate/kong-plugins';
export const KONG_STARTUP_TIMEOUT_MS = 60_000;

export class KongContainer extends GenericContainer {
  constructor(image = KONG_IMAGE) {
    super(image);
    this.withExposedPorts(KONG_PORTS.proxy, KONG_PORTS.grpc, KONG_PORTS.admin, KONG_PORTS.status)
      .withEnvironment(
        kongEnvironment({ declarativeConfigPath: KONG_DECLARATIVE_CONFIG_PATH, pluginDir: KONG_PLUGIN_DIR }),
      )
      .withWaitStrategy(Wait.forHttp('/status/ready', KONG_PORTS.status).forStatusCode(200))
      .withStartupTimeout(KONG_STARTUP_TIMEOUT_MS)
      .withAuditLogDirectory('/var/log/modelgate');
  }

  /** The declarative config, as JSON text (the compiled gateway/kong.json). */
  withDeclarativeConfig(json: string): this {
    return this.withCopyContentToContainer([
      { content: json, target: KONG_DECLARATIVE_CONFIG_PATH, mode: 0o644 },
    ]);
  }

  /** The folder that holds `kong/plugins/modelgate-model-access/*.lua` (the compiled kong-plugins/). */
  withPluginDirectory(source: string): this {
    return this.withCopyDirectoriesToContainer([{ source, target: KONG_PLUGIN_DIR, mode: 0o755 }]);
  }

  /** Where file-log writes (the folder of the policy's auditLogPath): a tmpfs Kong's user may write. */
  withAuditLogDirectory(dir: string): this {
    return this.withTmpFs({ [dir]: 'rw,mode=1777' });
  }

  override async start(): Promise<StartedKongContainer> {
    return new StartedKongContainer(await super.start());
  }
}

export class StartedKongContainer extends AbstractStartedContainer {
  constructor(startedTestContainer: StartedTestContainer) {
    super(startedTestContainer);
  }

  getProxyUrl(): string {
    return `http://${this.getHost()}:${this.getMappedPort(KONG_PORTS.proxy)}`;
  }

  /** `host:port` of the http2 listener, for gRPC clients. */
  getGrpcAddress(): string {
    return `${this.getHost()}:${this.getMappedPort(KONG_PORTS.grpc)}`;
  }

  getAdminUrl(): string {
    return `http://${this.getHost()}:${this.getMappedPort(KONG_PORTS.admin)}`;
  }

  getStatusUrl(): string {
    return `http://${this.getHost()}:${this.getMappedPort(KONG_PORTS.status)}`;
  }

  /** The audit log file's text, read inside the container. */
  async readAuditLog(path: string): Promise<string> {
    const result = await this.exec(['cat', path]);
    if (result.exitCode !== 0) throw new Error(`cannot read ${path} in the Kong container: ${result.output}`);
    return result.output;
  }
}
