// The Kong emulator: a DB-less Kong 3.9 stand-in for where the real image cannot run.

export {
  type AdminApiHost,
  adminApiHandler,
  EMPTY_CONFIGURATION_MESSAGE,
  statusApiHandler,
} from './admin-api.js';
export { kongErrorBody, kongExitBody, type RenderedBody } from './error-response.js';
export { FileLogWriter, FileLogWriters } from './file-log-writer.js';
export { grpcMessageOf, grpcRefusalHeaders } from './grpc-refusal.js';
export { KONG_SERVER_HEADER } from './http-proxy.js';
export { type KongClock, ManualClock, SYSTEM_CLOCK } from './kong-clock.js';
export {
  enabledPluginSchemas,
  KongConfigFileError,
  KongPluginsError,
  loadKongConfig,
  readKongConfigFile,
} from './kong-config-loader.js';
export {
  type BoundListener,
  DEFAULT_EMULATOR_LISTENERS,
  KongEmulator,
  type KongEmulatorOptions,
  type KongListenerRole,
} from './kong-emulator.js';
export {
  KONG_ENV_DEFAULTS,
  KongEnvError,
  type KongEnvironment,
  type KongListener,
  parseKongEnvironment,
  parseKongListen,
} from './kong-env.js';
export { type KongLogPlugin, runLogPhase } from './kong-log-plugin.js';
export type { KongBalancerTry, KongLogRecord, KongResponseSource } from './kong-log-record.js';
export { type KongWorkspace, REDACTED, serializeKongLog } from './kong-log-serializer.js';
export type { KongPluginHandler } from './kong-plugin.js';
export type { KongExit, KongRequest, KongRequestContext } from './kong-request.js';
export { escapeKongUri, normalizeKongPath } from './kong-uri.js';
export { PluginChain, resolvePlugin } from './plugin-chain.js';
export { ACL_BLOCKED_MESSAGE } from './plugins/acl.js';
export {
  DEFAULT_TOKEN_CACHE_ENTRIES,
  tokenExp,
  type VerifiedToken,
  VerifiedTokenCache,
} from './plugins/jwt-token-cache.js';
export { KONG_LATENCY_BUCKETS, KongPrometheusMetrics } from './plugins/prometheus.js';
export { BAD_UPSTREAM_MESSAGE, UPSTREAM_TIMEOUT_MESSAGE } from './proxy-pipeline.js';
export { type RouteMatch, RouteMatcher, type RouteMatchRequest } from './route-matcher.js';
