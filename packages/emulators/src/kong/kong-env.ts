// The Kong image's environment (products.md 1a), read once at the edge: DB-less mode, the declarative config
// path, the listeners and the enabled plugins. Anything the emulator cannot honour is refused with the variable
// named, so a stack that works here does not rely on something the real image would do differently.

export interface KongListener {
  host: string;
  port: number;
  /** `http2` flag: this listener speaks HTTP/2 cleartext (prior knowledge), which plaintext gRPC needs. */
  http2: boolean;
}

export interface KongEnvironment {
  declarativeConfig: string;
  proxyListen: KongListener[];
  adminListen: KongListener[];
  statusListen: KongListener[];
  /** Plugin names as listed in KONG_PLUGINS, `bundled` included as written. */
  plugins: string[];
}

/** kong_defaults.lua at 3.9.3 (the TLS listeners are not emulated: see README-section.md). */
export const KONG_ENV_DEFAULTS = {
  KONG_PROXY_LISTEN: '0.0.0.0:8000',
  KONG_ADMIN_LISTEN: '127.0.0.1:8001',
  KONG_STATUS_LISTEN: '127.0.0.1:8007',
  KONG_PLUGINS: 'bundled',
} as const;

export class KongEnvError extends Error {
  override readonly name = 'KongEnvError';
  constructor(
    readonly variable: string,
    readonly value: string | undefined,
    expected: string,
  ) {
    super(
      `${variable}: expected ${expected} (got ${value === undefined ? 'nothing' : JSON.stringify(value)})`,
    );
  }
}

const LISTEN_FLAGS = new Set(['http2', 'ssl', 'reuseport', 'deferred', 'proxy_protocol', 'bind']);

/** Parses one `*_LISTEN` value: `off`, or comma-separated `host:port [flags]`. */
export function parseKongListen(variable: string, value: string): KongListener[] {
  if (value.trim() === 'off') return [];
  return value.split(',').map((entry) => {
    const [address = '', ...flags] = entry.trim().split(/\s+/);
    const match = /^(\[[0-9a-fA-F:.]+\]|[^:]+):(\d{1,5})$/.exec(address);
    const port = Number(match?.[2]);
    if (!match?.[1] || port > 65535)
      throw new KongEnvError(variable, value, 'host:port entries, e.g. 0.0.0.0:8000');
    const unknown = flags.find((flag) => !LISTEN_FLAGS.has(flag));
    if (unknown !== undefined)
      throw new KongEnvError(variable, value, `known listen flags (not '${unknown}')`);
    if (flags.includes('ssl'))
      throw new KongEnvError(variable, value, 'plaintext listeners (ssl is not emulated)');
    return { host: match[1].replace(/^\[|\]$/g, ''), port, http2: flags.includes('http2') };
  });
}

/** Reads the Kong image's variables from `env` (process.env at the CLI). */
export function parseKongEnvironment(env: Readonly<Record<string, string | undefined>>): KongEnvironment {
  const database = env.KONG_DATABASE;
  if (database !== 'off')
    throw new KongEnvError('KONG_DATABASE', database, "'off' (only DB-less Kong is emulated)");
  const declarativeConfig = env.KONG_DECLARATIVE_CONFIG;
  if (!declarativeConfig) {
    throw new KongEnvError(
      'KONG_DECLARATIVE_CONFIG',
      declarativeConfig,
      'the path of the declarative config',
    );
  }
  const listen = (name: keyof typeof KONG_ENV_DEFAULTS) =>
    parseKongListen(name, env[name] ?? KONG_ENV_DEFAULTS[name]);
  const plugins = (env.KONG_PLUGINS ?? KONG_ENV_DEFAULTS.KONG_PLUGINS)
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  return {
    declarativeConfig,
    proxyListen: listen('KONG_PROXY_LISTEN'),
    adminListen: listen('KONG_ADMIN_LISTEN'),
    statusListen: listen('KONG_STATUS_LISTEN'),
    plugins,
  };
}
