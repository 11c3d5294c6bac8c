// @modelgate/policy: one policy, and what it compiles to: the Keycloak realm, the Kong declarative config and its
// validator, the modelgate-model-access plugin, signing keys and certificates, and the key-rotation plan.

import { readFileSync } from 'node:fs';
import { DEFAULT_POLICY_INPUT, DEFAULT_SECRETS_FILE, TOKEN_CLAIM_POLICY_INPUT } from './default-policy.js';
import { parseSecrets } from './identity/secrets.js';
import { parsePolicy } from './policy.js';

export {
  type CompiledFile,
  type CompiledPolicy,
  type CompileManifest,
  type CompileOptions,
  compilePolicy,
  writeCompiledFiles,
  writeCompiledPolicy,
} from './compile.js';
export {
  DEFAULT_POLICY_FILE,
  DEFAULT_POLICY_INPUT,
  DEFAULT_SECRETS_FILE,
  TOKEN_CLAIM_POLICY_FILE,
  TOKEN_CLAIM_POLICY_INPUT,
} from './default-policy.js';
export {
  checkJwt,
  type JwtCheckResult,
  type JwtCredential,
  type JwtPluginConfig,
  jwtSetup,
} from './gateway/jwt-credential-check.js';
export {
  CORRELATION_HEADER,
  DEFAULT_UPSTREAM,
  type GatewayConfig,
  GRPC_PATHS,
  gatewayVerificationKey,
  KONG_FORMAT_VERSION,
  KONG_PORTS,
  type KongListenOptions,
  kongConfig,
  kongEnvironment,
  MAX_PAYLOAD_MEGABYTES,
  modelRoutePath,
  type UpstreamOptions,
} from './gateway/kong-config.js';
export { pemBody, signingCertificate } from './identity/certificate.js';
export { readJwksKey, type VerificationKey, verificationKeys } from './identity/jwks.js';
export {
  type KeyRotationPlan,
  keyRotationPlan,
  ROTATED_KEY_PRIORITY_STEP,
} from './identity/key-rotation.js';
export {
  keycloakRealm,
  keyProviderName,
  modelRole,
  type RealmComponent,
  type RealmImport,
  realmModelRole,
} from './identity/realm.js';
export {
  clientSecret,
  createSecrets,
  loadSecrets,
  parseSecrets,
  type SecretsFile,
  type SigningKey,
  signingKey,
  TEST_ONLY_NOTICE,
  userPassword,
} from './identity/secrets.js';
export { readJsonFile } from './json-file.js';
export * from './kong-validator/index.js';
export * from './model-access/index.js';
export {
  readSavedModelSource,
  type SavedModelSource,
  type SavedModelVersion,
  WARMUP_REQUESTS_FILE,
} from './models/saved-model-source.js';
export {
  SERVING_DEFAULT,
  type ServingSignature,
  servingSignature,
  type TensorDescription,
} from './models/serving-signature.js';
export { installedVersion, packageJsonVersion } from './package-versions.js';
export {
  type AuthorizationPolicy,
  type ClientPolicy,
  canonicalJson,
  clientClaim,
  FIXTURE_MODEL_IDS,
  type FixtureModelId,
  type InteractivePolicy,
  type IssuerPolicy,
  issuerUrl,
  type KeycloakIssuerPolicy,
  type KeysPolicy,
  keycloakIssuer,
  type Limits,
  loadPolicy,
  type ModelPolicy,
  type ModelSource,
  maximumTokenLifetime,
  modelPermission,
  type OidcIssuerPolicy,
  type ParsePolicyOptions,
  POLICY_SCHEMA,
  type Policy,
  type PolicyInput,
  parsePolicy,
  policyHash,
  servedVersions,
  type VersionPolicy,
} from './policy.js';
export { PolicyError, type PolicyIssue, reportCliFailure } from './policy-error.js';
export {
  POLICY_JSON_SCHEMA_FILE,
  policyJsonSchema,
  policyJsonSchemaText,
} from './policy-json-schema.js';
export { PRODUCT_VERSIONS } from './product-versions.js';
export {
  TF_SERVING_METRICS_PATH,
  tfServingModelConfig,
  tfServingModelServerConfig,
  tfServingMonitoringConfig,
} from './serving/tf-serving-config.js';
export { tensorflowPython } from './tensorflow-python.js';

/** The default policy, validated and resolved. */
export const DEFAULT_POLICY = parsePolicy(DEFAULT_POLICY_INPUT, 'default policy');

/** The default policy with token-claim authorization (the same secrets). */
export const TOKEN_CLAIM_POLICY = parsePolicy(TOKEN_CLAIM_POLICY_INPUT, 'token-claim policy');

/** The default policy's test-only secrets. */
export const DEFAULT_SECRETS = parseSecrets(
  JSON.parse(readFileSync(DEFAULT_SECRETS_FILE, 'utf8')),
  'default secrets',
);
