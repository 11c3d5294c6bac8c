import { DEFAULT_POLICY, DEFAULT_SECRETS, keycloakRealm } from '@modelgate/policy';
import { type RealKeycloak, startRealKeycloak } from '@modelgate/policy/real-keycloak';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeycloakEmulator } from './keycloak-emulator.js';
import {
  type KeycloakTarget,
  REALM,
  REALM_CASES,
  ROTATION_CASE,
  sameLifetime,
} from './testing/differential-cases.js';

// The same table against the real Keycloak 26.7.3 (packages/fixtures scripts/setup-keycloak.sh) and the
// emulator, both seeded with the generated realm; every row must reduce to equal values on both.

const ADMIN = { username: 'modelgate-admin', password: 'modelgate-admin-password' };
let real: RealKeycloak;
let emulator: KeycloakEmulator;
let realTarget: KeycloakTarget;
let emulatorTarget: KeycloakTarget;

expect.addEqualityTesters([sameLifetime]);

beforeAll(async () => {
  const realm = await keycloakRealm(DEFAULT_POLICY, DEFAULT_SECRETS);
  emulator = new KeycloakEmulator({
    realms: [realm],
    httpHost: '127.0.0.1',
    adminUser: ADMIN.username,
    adminPassword: ADMIN.password,
  });
  const [started, startedReal] = await Promise.all([
    emulator.start(),
    startRealKeycloak({
      realmFiles: [{ name: REALM, json: JSON.stringify(realm) }],
      adminUser: ADMIN.username,
      adminPassword: ADMIN.password,
    }),
  ]);
  real = startedReal;
  emulatorTarget = { ...started, admin: ADMIN };
  realTarget = { baseUrl: real.baseUrl, managementUrl: real.managementUrl, admin: ADMIN };
}, 240_000);

afterAll(async () => {
  await Promise.all([emulator?.stop(), real?.stop()]);
});

describe('the Keycloak emulator beside the real Keycloak 26.7.3', () => {
  for (const row of [...REALM_CASES, ROTATION_CASE]) {
    it(row.name, async () => {
      const fromReal = await row.run(realTarget);
      const fromEmulator = await row.run(emulatorTarget);
      expect(fromEmulator).toEqual(fromReal);
    });
  }
});
