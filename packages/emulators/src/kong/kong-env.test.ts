import { kongEnvironment } from '@modelgate/policy';
import { describe, expect, it } from 'vitest';
import { KongEnvError, parseKongEnvironment, parseKongListen } from './kong-env.js';

describe('the Kong image environment', () => {
  it('reads the generated container environment: DB-less, the config path, an http2 listener for gRPC', () => {
    const env = kongEnvironment({
      declarativeConfigPath: '/kong/kong.json',
      pluginDir: '/opt/modelgate/kong-plugins',
    });
    expect(parseKongEnvironment(env)).toEqual({
      declarativeConfig: '/kong/kong.json',
      proxyListen: [
        { host: '0.0.0.0', port: 8000, http2: false },
        { host: '0.0.0.0', port: 9080, http2: true },
      ],
      adminListen: [{ host: '0.0.0.0', port: 8001, http2: false }],
      statusListen: [{ host: '0.0.0.0', port: 8007, http2: false }],
      plugins: ['bundled', 'modelgate-model-access'],
    });
  });

  it("uses kong_defaults.lua's plaintext listeners when none are given", () => {
    const parsed = parseKongEnvironment({ KONG_DATABASE: 'off', KONG_DECLARATIVE_CONFIG: '/k.json' });
    expect(parsed.proxyListen).toEqual([{ host: '0.0.0.0', port: 8000, http2: false }]);
    expect(parsed.adminListen).toEqual([{ host: '127.0.0.1', port: 8001, http2: false }]);
    expect(parsed.statusListen).toEqual([{ host: '127.0.0.1', port: 8007, http2: false }]);
    expect(parsed.plugins).toEqual(['bundled']);
  });

  it('refuses a database mode other than off, naming the variable', () => {
    expect(() =>
      parseKongEnvironment({ KONG_DATABASE: 'postgres', KONG_DECLARATIVE_CONFIG: '/k.json' }),
    ).toThrow(new KongEnvError('KONG_DATABASE', 'postgres', "'off' (only DB-less Kong is emulated)"));
  });

  it('refuses a missing declarative config path', () => {
    expect(() => parseKongEnvironment({ KONG_DATABASE: 'off' })).toThrow(
      /^KONG_DECLARATIVE_CONFIG: expected/,
    );
  });

  it('reads off, IPv6 hosts, and refuses ssl listeners and unknown flags', () => {
    expect(parseKongListen('KONG_ADMIN_LISTEN', 'off')).toEqual([]);
    expect(parseKongListen('KONG_PROXY_LISTEN', '[::1]:9080 http2 reuseport')).toEqual([
      { host: '::1', port: 9080, http2: true },
    ]);
    expect(() => parseKongListen('KONG_PROXY_LISTEN', '0.0.0.0:8443 http2 ssl')).toThrow(
      /ssl is not emulated/,
    );
    expect(() => parseKongListen('KONG_PROXY_LISTEN', '0.0.0.0:8000 quic')).toThrow(/not 'quic'/);
    expect(() => parseKongListen('KONG_PROXY_LISTEN', '8000')).toThrow(/host:port/);
  });
});
