import { describe, expect, it } from 'vitest';
import { KeycloakOptionsError, parseKeycloakArgs } from './keycloak-options.js';

describe('parseKeycloakArgs', () => {
  it('takes the kc.sh defaults for start-dev', () => {
    expect(parseKeycloakArgs(['start-dev'], {})).toEqual({
      kind: 'start',
      options: {
        httpPort: 8080,
        httpHost: '0.0.0.0',
        managementPort: 9000,
        hostname: undefined,
        importRealm: false,
        importDir: 'data/import',
        adminUser: undefined,
        adminPassword: undefined,
      },
    });
  });

  it('reads the flags, and the KC_* environment where no flag is given', () => {
    const parsed = parseKeycloakArgs(
      [
        'start-dev',
        '--http-port=18080',
        '--http-management-port',
        '19000',
        '--import-realm',
        '--import-dir=/tmp/realms',
      ],
      {
        KC_HOSTNAME: 'http://localhost:8080/',
        KC_BOOTSTRAP_ADMIN_USERNAME: 'root',
        KC_BOOTSTRAP_ADMIN_PASSWORD: 'pw',
      },
    );
    expect(parsed).toMatchObject({
      kind: 'start',
      options: {
        httpPort: 18080,
        managementPort: 19000,
        hostname: 'http://localhost:8080',
        importRealm: true,
        importDir: '/tmp/realms',
        adminUser: 'root',
        adminPassword: 'pw',
      },
    });
  });

  it('lets --hostname win over KC_HOSTNAME and accepts a bare host name', () => {
    expect(
      parseKeycloakArgs(['start-dev', '--hostname=keycloak'], { KC_HOSTNAME: 'http://other' }),
    ).toMatchObject({
      options: { hostname: 'http://keycloak' },
    });
  });

  it('refuses a port that is not a port, naming the flag', () => {
    expect(() => parseKeycloakArgs(['start-dev', '--http-port=80a'], {})).toThrow(
      new KeycloakOptionsError('--http-port', '80a', 'a port number 0-65535'),
    );
  });

  it('refuses a command other than start-dev or start', () => {
    expect(() => parseKeycloakArgs(['export'], {})).toThrow(KeycloakOptionsError);
  });

  it('answers --help', () => {
    expect(parseKeycloakArgs(['--help'], {})).toEqual({ kind: 'help' });
  });
});
