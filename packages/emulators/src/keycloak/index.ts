export { main as keycloakCli } from './cli.js';
export { rsaKeyId } from './key-provider.js';
export {
  KeycloakEmulator,
  type KeycloakEmulatorOptions,
  type StartedKeycloakEmulator,
} from './keycloak-emulator.js';
export { KeycloakError } from './keycloak-error.js';
export { type KeycloakOptions, KeycloakOptionsError, parseKeycloakArgs } from './keycloak-options.js';
export { RealmFileError, readRealmFiles } from './realm-files.js';
