import {
  checkJwt,
  type JwtCredential,
  type KongJwtConfig,
  type NormalizedKongConfig,
} from '@modelgate/policy';
import type { KongClock } from '../kong-clock.js';
import type { KongPluginHandler } from '../kong-plugin.js';
import { type KongRequestContext, kongExitJson } from '../kong-request.js';
import type { VerifiedToken, VerifiedTokenCache } from './jwt-token-cache.js';

// The jwt plugin (kong/plugins/jwt/handler.lua at 3.9.3, priority 1450): finds the tokens in the query, the
// cookies and the headers, then runs the fixtures' checkJwt (lookup by key claim, alg, signature, exp/nbf,
// maximum_expiration, every refusal body and WWW-Authenticate) and on success sets the consumer.

const BEARER = /\s*[Bb]earer\s+(.+)/;

/** Every distinct token of the request, in Kong's lookup order: query params, cookies, headers. */
export function retrieveJwtTokens(context: KongRequestContext, config: KongJwtConfig): string[] {
  const tokens = new Set<string>();
  const { request } = context;
  for (const name of config.uri_param_names) {
    for (const value of request.query.getAll(name)) if (value !== '') tokens.add(value);
  }
  if (config.cookie_names.length > 0) {
    const cookies = parseCookies(request.headers.cookie);
    for (const name of config.cookie_names) {
      const value = cookies.get(name);
      if (value) tokens.add(value);
    }
  }
  for (const name of config.header_names) {
    const raw = request.headers[name.toLowerCase()];
    const value = Array.isArray(raw) ? raw[0] : raw;
    const token = value === undefined ? undefined : BEARER.exec(value)?.[1];
    if (token) tokens.add(token);
  }
  return [...tokens];
}

function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const pair of (header ?? '').split(';')) {
    const at = pair.indexOf('=');
    if (at > 0) cookies.set(pair.slice(0, at).trim(), pair.slice(at + 1).trim());
  }
  return cookies;
}

const credentialsByConfig = new WeakMap<NormalizedKongConfig, JwtCredential[]>();

/** The config's jwt credentials, each naming its consumer's id. */
function credentialsOf(config: NormalizedKongConfig): JwtCredential[] {
  let credentials = credentialsByConfig.get(config);
  if (!credentials) {
    credentials = config.jwt_secrets.map((secret) => ({
      key: secret.key,
      algorithm: secret.algorithm,
      rsa_public_key: secret.rsa_public_key,
      consumer: secret.consumer.id,
    }));
    credentialsByConfig.set(config, credentials);
  }
  return credentials;
}

/** checkJwt, or the cache's answer for a single token it verified before under this config and plugin. */
async function verify(
  context: KongRequestContext,
  config: KongJwtConfig,
  pluginId: string,
  tokens: string[],
  nowSeconds: number,
  cache: VerifiedTokenCache | undefined,
): Promise<VerifiedToken | Awaited<ReturnType<typeof checkJwt>>> {
  const single = tokens.length === 1 ? tokens[0] : undefined;
  const cached = single && cache?.get(context.config, pluginId, single, nowSeconds);
  if (cached) return cached;
  const result = await checkJwt(
    config,
    credentialsOf(context.config),
    tokens.map((token) => `Bearer ${token}`),
    nowSeconds,
  );
  if (!result.ok) return result;
  const verified = { consumer: result.consumer, credentialKey: result.credentialKey };
  if (single) cache?.set(context.config, pluginId, single, verified, nowSeconds);
  return verified;
}

/** `cache`: verified tokens kept for speed (bounded, never past exp, flushed on POST /config). */
export function jwtPlugin(clock: KongClock, cache?: VerifiedTokenCache): KongPluginHandler<KongJwtConfig> {
  return {
    name: 'jwt',
    priority: 1450,
    async access(context, config, plugin) {
      // handler.lua skips every OPTIONS request, not only CORS preflights
      if (!config.run_on_preflight && context.request.method === 'OPTIONS') return undefined;
      const tokens = retrieveJwtTokens(context, config);
      const nowSeconds = Math.floor(clock.now() / 1000);
      const result = await verify(context, config, plugin.id, tokens, nowSeconds, cache);
      if ('ok' in result && !result.ok)
        return kongExitJson(401, result.body, { 'WWW-Authenticate': result.wwwAuthenticate });
      const consumer = context.config.consumers.find((candidate) => candidate.id === result.consumer);
      const secret = context.config.jwt_secrets.find((candidate) => candidate.key === result.credentialKey);
      if (!consumer || !secret) {
        const claimName = config.key_claim_name;
        return kongExitJson(
          401,
          { message: `Could not find consumer for '${claimName}=${result.credentialKey}'` },
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
    },
  };
}
