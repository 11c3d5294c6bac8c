import {
  DEFAULT_MAX_BODY_BYTES,
  MODEL_ACCESS_PLUGIN,
  MODEL_ACCESS_REFUSALS,
  type ModelAccessConfig,
  type ModelAccessRefusalName,
} from '@modelgate/policy';
import { ownValue } from '../../own-value.js';
import type { KongClock } from '../kong-clock.js';
import type { KongPluginHandler } from '../kong-plugin.js';
import { firstHeader, type KongExit, type KongRequestContext, kongExitError } from '../kong-request.js';
import {
  grpcTargets,
  isGrpcContentType,
  isIdentityEncoding,
  isProtobufContentType,
  MODEL_ACCESS_METHODS,
  type ModelTarget,
  messageRange,
} from './model-access-grpc-request.js';
import { restTarget } from './model-access-rest-path.js';

// modelgate-model-access, the same checks in the same order as its Lua handler
// (packages/policy/kong-plugins/kong/plugins/modelgate-model-access/handler.lua): token iss and aud, the model
// the REST path or the gRPC message names, the audit values, the consumer's grants (or, with token-claim
// authorization, the permissions the token itself carries).

const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** Claims of recent tokens: clients reuse a token for many calls, so each is decoded once. Bounded. */
const CLAIMS_CACHE_SIZE = 1024;
const claimsCache = new Map<string, Record<string, unknown> | undefined>();

/** The token asked about last and its claims: a client sends the same token call after call. */
let lastToken: string | undefined;
let lastClaims: Record<string, unknown> | undefined;

/**
 * tokenClaims, remembered for the most recent tokens (the claims object is never modified here). The last
 * token is compared first: equal strings compare quicker than a ~1 KB key is hashed for the Map.
 */
function cachedTokenClaims(jwt: string): Record<string, unknown> | undefined {
  if (jwt === lastToken) return lastClaims;
  let claims = claimsCache.get(jwt);
  if (claims === undefined && !claimsCache.has(jwt)) {
    claims = tokenClaims(jwt);
    if (claimsCache.size >= CLAIMS_CACHE_SIZE) claimsCache.delete(claimsCache.keys().next().value as string);
    claimsCache.set(jwt, claims);
  }
  lastToken = jwt;
  lastClaims = claims;
  return claims;
}

/** Consumer -> granted models as a set, built once per plugin config (Kong builds a new conf on each change). */
const grantSets = new WeakMap<ModelAccessConfig, Map<string, Set<string>>>();

function grantedModels(config: ModelAccessConfig, username: string): Set<string> | undefined {
  let sets = grantSets.get(config);
  if (!sets) {
    sets = new Map(Object.entries(config.grants).map(([name, models]) => [name, new Set(models)]));
    grantSets.set(config, sets);
  }
  return sets.get(username);
}

/** The claims of the token jwt verified, or undefined if its payload is not base64url JSON of an object. */
export function tokenClaims(jwt: string): Record<string, unknown> | undefined {
  const payload = /^[^.]+\.([^.]+)\.[^.]*$/s.exec(jwt)?.[1];
  if (payload === undefined || !BASE64URL.test(payload) || payload.length % 4 === 1) return undefined;
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return undefined; // cjson.safe's nil: refused as invalidToken below
  }
  // lua-cjson reads [] as an empty table, which then fails the issuer check; any other array is refused here
  if (Array.isArray(claims)) return claims.length === 0 ? {} : undefined;
  if (typeof claims !== 'object' || claims === null) return undefined;
  return claims as Record<string, unknown>;
}

/**
 * token-claim: the permissions at `path` in the claims, or undefined when the claim is missing or is neither a
 * string (space separated, as `scope`) nor an array of strings.
 */
export function claimedPermissions(
  claims: Record<string, unknown>,
  path: readonly string[],
): Set<string> | undefined {
  let value: unknown = claims;
  for (const key of path) {
    // lua-cjson gives arrays and objects alike as tables; an array has no string keys
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    value = ownValue(value as Record<string, unknown>, key);
  }
  if (typeof value === 'string') return new Set(value.split(/[ \t\n\v\f\r]+/).filter(Boolean));
  if (typeof value !== 'object' || value === null) return undefined;
  // an empty object reads as an empty array in lua-cjson; any other object is no list of permissions
  const list = Array.isArray(value) ? value : Object.keys(value).length === 0 ? [] : undefined;
  if (!list?.every((permission) => typeof permission === 'string')) return undefined;
  return new Set(list as string[]);
}

export function hasAudience(aud: unknown, audience: string): boolean {
  if (aud === audience) return true;
  return Array.isArray(aud) && aud.includes(audience);
}

/** The refusal as the plugin sends it: over gRPC over HTTP/2, its message also goes out as grpc-message. */
function refuse(name: ModelAccessRefusalName, grpcShaped: boolean): KongExit {
  const refusal = MODEL_ACCESS_REFUSALS[name];
  return kongExitError(
    refusal.status,
    refusal.message,
    grpcShaped ? { 'grpc-message': refusal.message } : {},
  );
}

function grpcRequestTargets(
  context: KongRequestContext,
  config: ModelAccessConfig,
  contentType: string,
): ModelTarget[] | ModelAccessRefusalName {
  if (!isProtobufContentType(contentType)) return 'contentType';
  const kind = MODEL_ACCESS_METHODS[context.request.path];
  if (kind === undefined) return 'methodForbidden';
  if (!isIdentityEncoding(firstHeader(context.request.headers, 'grpc-encoding'))) return 'compressed';
  const body = context.request.body;
  if (body.length > (config.max_body_bytes ?? DEFAULT_MAX_BODY_BYTES)) return 'bodyTooLarge';
  const range = messageRange(body);
  if (typeof range === 'string') return range;
  const targets = grpcTargets(body, range.from, range.to, kind);
  if (typeof targets === 'string') return targets;
  if (targets.length === 0 || targets.some((target) => !target.model)) return 'noModel';
  return targets;
}

function record(context: KongRequestContext, targets: readonly ModelTarget[]): void {
  const [first] = targets;
  // one target (every REST call, most gRPC ones): its own strings, no list joined
  const one = targets.length === 1 && first !== undefined;
  context.serializeValues.set(
    'model',
    one ? (first.model ?? '') : targets.map((target) => target.model).join(','),
  );
  context.serializeValues.set(
    'model_version',
    one ? first.version : targets.map((target) => target.version).join(','),
  );
}

/** `clock`: ngx.time() for the nbf check. */
export function modelAccessPlugin(clock: KongClock): KongPluginHandler<ModelAccessConfig> {
  return {
    name: MODEL_ACCESS_PLUGIN.name,
    priority: MODEL_ACCESS_PLUGIN.priority,
    // kong.request.get_raw_body for gRPC calls only; a longer body is refused as bodyTooLarge
    bodyLimit: (context, config) =>
      isGrpcContentType(firstHeader(context.request.headers, 'content-type'))
        ? (config.max_body_bytes ?? DEFAULT_MAX_BODY_BYTES)
        : undefined,
    access(context, config) {
      const contentType = firstHeader(context.request.headers, 'content-type');
      const grpc = isGrpcContentType(contentType);
      const grpcShaped = grpc && context.request.httpVersion === 2;

      const { consumer, authenticatedJwtToken: jwt } = context;
      if (!consumer || typeof jwt !== 'string') return refuse('unauthenticated', grpcShaped);
      const claims = cachedTokenClaims(jwt);
      if (!claims) return refuse('invalidToken', grpcShaped);
      if (claims.iss !== config.issuer) return refuse('issuer', grpcShaped);
      if (!hasAudience(claims.aud, config.audience)) return refuse('audience', grpcShaped);
      // jwt checks exp only; a token not valid yet stops here
      const { nbf } = claims;
      const skew = config.clock_skew_seconds ?? 60;
      if (nbf !== undefined && (typeof nbf !== 'number' || nbf > Math.floor(clock.now() / 1000) + skew)) {
        return refuse('notYetValid', grpcShaped);
      }

      let targets: ModelTarget[] | ModelAccessRefusalName;
      if (grpc) {
        targets = grpcRequestTargets(context, config, contentType as string);
      } else {
        const target = restTarget(context.request.path);
        targets = target ? [target] : 'unknownPath';
      }
      if (typeof targets === 'string') return refuse(targets, grpcShaped);

      record(context, targets);
      if (config.authorization === 'token-claim') {
        const permissions = claimedPermissions(claims, config.permission_claim);
        if (!permissions) return refuse('noPermissions', grpcShaped);
        for (const target of targets) {
          const permission = config.permission_format.replaceAll('{name}', target.model as string);
          if (!permissions.has(permission)) return refuse('modelForbidden', grpcShaped);
        }
        return undefined;
      }
      const granted =
        consumer.username !== null && Object.hasOwn(config.grants, consumer.username)
          ? grantedModels(config, consumer.username)
          : undefined;
      for (const target of targets) {
        if (!granted?.has(target.model as string)) return refuse('modelForbidden', grpcShaped);
      }
      return undefined;
    },
  };
}
