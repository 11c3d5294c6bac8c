import { PRODUCT_VERSIONS } from '@modelgate/policy';
import { AbstractStartedContainer, GenericContainer, type StartedTestContainer, Wait } from 'testcontainers';

// Keycloak 26.7.3 in start-dev with realm import, in the shape of testcontainers-node's modules (and of
// dasniko/testcontainers-keycloak): bootstrap admin, health on the management port 9000, ready on
// /health/ready. The realm's frontendUrl pins the tokens' iss, so tokens minted from inside the network and
// from the host carry the same one.

export const KEYCLOAK_IMAGE = `quay.io/keycloak/keycloak:${PRODUCT_VERSIONS.keycloak}`;
export const KEYCLOAK_HTTP_PORT = 8080;
export const KEYCLOAK_MANAGEMENT_PORT = 9000;
export const KEYCLOAK_IMPORT_DIR = '/opt/keycloak/data/import';
export const KEYCLOAK_STARTUP_TIMEOUT_MS = 180_000;
export const KEYCLOAK_DEFAULT_ADMIN = { username: 'admin', password: 'admin' } as const;

export class KeycloakContainer extends GenericContainer {
  private admin: { username: string; password: string } = { ...KEYCLOAK_DEFAULT_ADMIN };

  constructor(image = KEYCLOAK_IMAGE) {
    super(image);
    this.withExposedPorts(KEYCLOAK_HTTP_PORT, KEYCLOAK_MANAGEMENT_PORT)
      .withEnvironment({ KC_HEALTH_ENABLED: 'true', JAVA_OPTS_KC_HEAP: '-XX:MaxRAMPercentage=25' })
      .withWaitStrategy(Wait.forHttp('/health/ready', KEYCLOAK_MANAGEMENT_PORT).forStatusCode(200))
      .withStartupTimeout(KEYCLOAK_STARTUP_TIMEOUT_MS)
      .withCommand(['start-dev', '--import-realm', '--health-enabled=true'])
      .withAdmin(KEYCLOAK_DEFAULT_ADMIN.username, KEYCLOAK_DEFAULT_ADMIN.password);
  }

  /** A realm to import at start (the compiled realm JSON), as `<name>.json`, mode 0644 as Keycloak reads it. */
  withRealmImport(name: string, json: string): this {
    return this.withCopyContentToContainer([
      { content: json, target: `${KEYCLOAK_IMPORT_DIR}/${name}.json`, mode: 0o644 },
    ]);
  }

  /** The bootstrap admin (KC_BOOTSTRAP_ADMIN_*), for the admin API (key rotation). */
  withAdmin(username: string, password: string): this {
    this.admin = { username, password };
    return this.withEnvironment({
      KC_BOOTSTRAP_ADMIN_USERNAME: username,
      KC_BOOTSTRAP_ADMIN_PASSWORD: password,
    });
  }

  override async start(): Promise<StartedKeycloakContainer> {
    return new StartedKeycloakContainer(await super.start(), this.admin);
  }
}

export class StartedKeycloakContainer extends AbstractStartedContainer {
  constructor(
    startedTestContainer: StartedTestContainer,
    private readonly admin: { username: string; password: string },
  ) {
    super(startedTestContainer);
  }

  getBaseUrl(): string {
    return `http://${this.getHost()}:${this.getMappedPort(KEYCLOAK_HTTP_PORT)}`;
  }

  getManagementUrl(): string {
    return `http://${this.getHost()}:${this.getMappedPort(KEYCLOAK_MANAGEMENT_PORT)}`;
  }

  getTokenUrl(realm: string): string {
    return `${this.getBaseUrl()}/realms/${realm}/protocol/openid-connect/token`;
  }

  getJwksUrl(realm: string): string {
    return `${this.getBaseUrl()}/realms/${realm}/protocol/openid-connect/certs`;
  }

  getAdminCredentials(): { username: string; password: string } {
    return { ...this.admin };
  }
}
