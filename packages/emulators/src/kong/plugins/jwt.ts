import {
  checkJwt,
  type JwtCredential,
  type KongJwtConfig,
  type NormalizedKongConfig,
} from '@modelgate/policy';
import type { KongClock } from '../kong-clock.js';
import type { KongPluginHandler } from '../kong-plugin.js';
import { type KongExit, type KongRequestContext, kongExitJson } from '../kong-request.js';
import type { VerifiedToken, VerifiedTokenCache } from './jwt-token-cache.js';

// The jwt plugin (kong/plugins/jwt/handler.lua at 3.9.3, priority 1450): finds the tokens in the query, the
// cookies and the headers, then runs the fixtures' checkJwt (lookup by key claim, alg, signature, exp/nbf,
// maximum_expiration, every refusal body and WWW-Authenticate) and on success sets the consumer.

/**
 * handler.lua's `\s*[Bb]earer\s+(.+)`, found anywhere in the header (re_gmatch is not anchored): the token is
 * the rest of the value after it. A header value holds no newline, so `(.+)` is that rest, and ending the
 * pattern with a look-ahead spares the regex engine a walk over a kilobyte of token per request.
 */
const BEARER = /\s*[Bb]earer\s+(?=.)/;

/** Every distinct token of the request, in Kong's lookup order: query params, cookies, headers. */
export function retrieveJwtTokens(context: KongRequestContext, config: KongJwtConfig): string[] {
  // few tokens at most: a list with includes() is cheaper than a Set, in the same order
  const tokens: string[] = [];
  const add = (token: string) => {
    if (!tokens.includes(token)) tokens.push(token);
  };
  const { request } = context;
  for (const name of config.uri_param_names) {
    for (const value of request.query.getAll(name)) if (value !== '') add(value);
  }
  if (config.cookie_names.length > 0) {
    const cookies = parseCookies(request.headers.cookie);
    for (const name of config.cookie_names) {
      const value = cookies.get(name);
      if (value) add(value);
    }
  }
  for (const name of config.header_names) {
    const raw = request.headers[name.toLowerCase()];
    const value = Array.isArray(raw) ? raw[0] : raw;
    if (value === undefined) continue;
    const bearer = BEARER.exec(value);
    if (bearer) add(value.slice(bearer.index + bearer[0].length));
  }
  return tokens;
}

function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const pair of (header ?? '').split(';')) {
    const at = pair.indexOf('=');
    if (at > 0) cookies.set(pair.slice(0, at).trim(), pair.slice(at + 1).trim());
  }
  return cookies;
}

interface ConfigLookups {
  /** The config's jwt credentials, each naming its consumer's id. */
  credentials: JwtCredential[];
  consumers: Map<string, NormalizedKongConfig['consumers'][number]>;
  secrets: Map<string, NormalizedKongConfig['jwt_secrets'][number]>;
}

const lookupsByConfig = new WeakMap<NormalizedKongConfig, ConfigLookups>();

/** What jwt looks up in a configuration, indexed once per configuration. */
function lookupsOf(config: NormalizedKongConfig): ConfigLookups {
  let lookups = lookupsByConfig.get(config);
  if (!lookups) {
    lookups = {
      credentials: config.jwt_secrets.map((secret) => ({
        key: secret.key,
        algorithm: secret.algorithm,
        rsa_public_key: secret.rsa_public_key,
        consumer: secret.consumer.id,
      })),
      consumers: new Map(config.consumers.map((consumer) => [consumer.id, consumer])),
      // the first secret of a key wins, as find() over the list did
      secrets: new Map([...config.jwt_secrets].reverse().map((secret) => [secret.key, secret])),
    };
    lookupsByConfig.set(config, lookups);
  }
  return lookups;
}

/** checkJwt's verdict, as a refusal or the verified consumer and credential. */
async function verify(
  context: KongRequestContext,
  config: KongJwtConfig,
  pluginId: string,
  tokens: string[],
  nowSeconds: number,
  cache: VerifiedTokenCache | undefined,
): Promise<KongExit | VerifiedToken> {
  const result = await checkJwt(
    config,
    lookupsOf(context.config).credentials,
    tokens.map((token) => `Bearer ${token}`),
    nowSeconds,
  );
  if (!result.ok) return kongExitJson(401, result.body, { 'WWW-Authenticate': result.wwwAuthenticate });
  const verified = { consumer: result.consumer, credentialKey: result.credentialKey };
  if (tokens.length === 1) cache?.set(context.config, pluginId, tokens[0] as string, verified, nowSeconds);
  return verified;
}

/** Sets the verified consumer and credential on the request, or refuses one the config no longer has. */
function authenticate(
  context: KongRequestContext,
  config: KongJwtConfig,
  tokens: string[],
  verified: VerifiedToken,
): KongExit | undefined {
  const lookups = lookupsOf(context.config);
  const consumer = lookups.consumers.get(verified.consumer);
  const secret = lookups.secrets.get(verified.credentialKey);
  if (!consumer || !secret) {
    const claimName = config.key_claim_name;
    return kongExitJson(
      401,
      { message: `Could not find consumer for '${claimName}=${verified.credentialKey}'` },
      { 'WWW-Authenticate': 'Bearer error="invalid_token"' },
    );
  }
  context.consumer = consumer;
  context.credential = { id: secret.id, key: secret.key };
  context.authenticatedJwtToken = tokens[0] ?? null;
  const headers = context.upstreamHeaders;
  headers.set('x-consumer-id', consumer.id);
  headers.set('x-consumer-custom-id', consumer.custom_id);
  headers.set('x-consumer-username', consumer.username);
  headers.set('x-credential-identifier', secret.key);
  headers.set('x-anonymous-consumer', null);
  return undefined;
}

/**
 * `cache`: verified tokens kept for speed (bounded, never past exp, flushed on POST /config). A token the cache
 * holds is answered without a turn of the microtask queue; any other goes through checkJwt.
 */
export function jwtPlugin(clock: KongClock, cache?: VerifiedTokenCache): KongPluginHandler<KongJwtConfig> {
  return {
    name: 'jwt',
    priority: 1450,
    access(context, config, plugin) {
      // handler.lua skips every OPTIONS request, not only CORS preflights
      if (!config.run_on_preflight && context.request.method === 'OPTIONS') return undefined;
      const tokens = retrieveJwtTokens(context, config);
      const nowSeconds = Math.floor(clock.now() / 1000);
      const cached =
        tokens.length === 1
          ? cache?.get(context.config, plugin.id, tokens[0] as string, nowSeconds)
          : undefined;
      if (cached) return authenticate(context, config, tokens, cached);
      return verify(context, config, plugin.id, tokens, nowSeconds, cache).then((outcome) =>
        'consumer' in outcome ? authenticate(context, config, tokens, outcome) : outcome,
      );
    },
  };
}
