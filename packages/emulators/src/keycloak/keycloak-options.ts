import { parseArgs } from 'node:util';

/** kc.sh's defaults for the options the emulator honours. */
export const DEFAULT_HTTP_PORT = 8080;
export const DEFAULT_MANAGEMENT_PORT = 9000;
export const DEFAULT_HTTP_HOST = '0.0.0.0';
/** Where `--import-realm` reads realm files in the container (`/opt/keycloak/data/import`), relative here. */
export const DEFAULT_IMPORT_DIR = 'data/import';

export interface KeycloakOptions {
  httpPort: number;
  httpHost: string;
  managementPort: number;
  /** `--hostname` / `KC_HOSTNAME`: pins the URLs Keycloak gives out, `iss` included. Absent: the request's Host. */
  hostname: string | undefined;
  importRealm: boolean;
  /** Emulator only: the folder `--import-realm` reads (the real server uses `<home>/data/import`). */
  importDir: string;
  /** `KC_BOOTSTRAP_ADMIN_USERNAME` / `_PASSWORD`: the master realm's admin. Absent: no admin user. */
  adminUser: string | undefined;
  adminPassword: string | undefined;
}

export class KeycloakOptionsError extends Error {
  override readonly name = 'KeycloakOptionsError';

  constructor(
    readonly option: string,
    readonly value: string,
    expected: string,
  ) {
    super(`${option}: expected ${expected}, got ${JSON.stringify(value)}; run with --help for the options`);
  }
}

export const KEYCLOAK_HELP = `Usage: keycloak-emulator start-dev [options]   (the subset of kc.sh the emulator honours)

  --http-port=<port>             HTTP port (default ${DEFAULT_HTTP_PORT})
  --http-host=<address>          listen address (default ${DEFAULT_HTTP_HOST})
  --http-management-port=<port>  management port: /health, /health/ready, /health/live (default ${DEFAULT_MANAGEMENT_PORT})
  --hostname=<url>               pin the issuer and every URL given out (env KC_HOSTNAME; default: request Host)
  --import-realm                 import every *.json realm file of --import-dir at start (default off)
  --import-dir=<dir>             emulator only: folder of realm files (default ${DEFAULT_IMPORT_DIR})
  --health-enabled=<bool>        accepted for kc.sh compatibility; health is always served
  -h, --help                     this help
Environment: KC_HOSTNAME, KC_HTTP_PORT, KC_HTTP_MANAGEMENT_PORT, KC_BOOTSTRAP_ADMIN_USERNAME, KC_BOOTSTRAP_ADMIN_PASSWORD.
`;

function port(option: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65_535) {
    throw new KeycloakOptionsError(option, value, 'a port number 0-65535');
  }
  return parsed;
}

function hostnameUrl(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  // kc.sh accepts a bare host name too; it then serves http on the request's port.
  const url = /^https?:\/\//.test(value) ? value : `http://${value}`;
  if (!URL.canParse(url)) throw new KeycloakOptionsError('--hostname', value, 'a URL or host name');
  return url.replace(/\/+$/, '');
}

export type ParsedCommand = { kind: 'help' } | { kind: 'start'; options: KeycloakOptions };

/** Reads kc.sh-style arguments (`start-dev --http-port=8080 ...`) and the `KC_*` environment; flags win. */
export function parseKeycloakArgs(argv: string[], env: NodeJS.ProcessEnv): ParsedCommand {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'http-port': { type: 'string' },
      'http-host': { type: 'string' },
      'http-management-port': { type: 'string' },
      hostname: { type: 'string' },
      'import-realm': { type: 'boolean', default: false },
      'import-dir': { type: 'string' },
      'health-enabled': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return { kind: 'help' };
  const [command = 'start-dev', ...rest] = positionals;
  if (command !== 'start-dev' && command !== 'start') {
    throw new KeycloakOptionsError('command', command, '"start-dev" or "start"');
  }
  if (rest.length > 0) throw new KeycloakOptionsError('arguments', rest.join(' '), 'no further arguments');
  return {
    kind: 'start',
    options: {
      httpPort: port('--http-port', values['http-port'] ?? env.KC_HTTP_PORT, DEFAULT_HTTP_PORT),
      httpHost: values['http-host'] ?? env.KC_HTTP_HOST ?? DEFAULT_HTTP_HOST,
      managementPort: port(
        '--http-management-port',
        values['http-management-port'] ?? env.KC_HTTP_MANAGEMENT_PORT,
        DEFAULT_MANAGEMENT_PORT,
      ),
      hostname: hostnameUrl(values.hostname ?? env.KC_HOSTNAME),
      importRealm: values['import-realm'],
      importDir: values['import-dir'] ?? DEFAULT_IMPORT_DIR,
      adminUser: env.KC_BOOTSTRAP_ADMIN_USERNAME || undefined,
      adminPassword: env.KC_BOOTSTRAP_ADMIN_PASSWORD || undefined,
    },
  };
}
