import { mintTokens, REFRESH_TOKEN_LIFESPAN, TOKEN_SCOPE } from './access-token.js';
import { authenticateClient } from './client-authentication.js';
import { refusals } from './keycloak-error.js';
import type { Client, Realm } from './realm-store.js';

const SUPPORTED_GRANTS = new Set(['client_credentials', 'password']);

export type TokenResponse = Record<string, string | number>;

function authenticatedClient(realm: Realm, form: URLSearchParams, authorization: string | undefined): Client {
  const authentication = authenticateClient(realm, form, authorization);
  if (authentication.ok) return authentication.client;
  throw authentication.reason === 'wrong-secret' ? refusals.wrongClientSecret() : refusals.invalidClient();
}

async function clientCredentials(realm: Realm, client: Client, issuer: string): Promise<TokenResponse> {
  if (client.publicClient) throw refusals.publicClientServiceAccount();
  const user = realm.users.find((candidate) => candidate.serviceAccountClientId === client.clientId);
  if (!client.serviceAccountsEnabled || !user) throw refusals.serviceAccountDisabled();
  const tokens = await mintTokens(realm, client, user, 'client_credentials', issuer);
  return {
    access_token: tokens.accessToken,
    expires_in: tokens.expiresIn,
    refresh_expires_in: 0,
    token_type: 'Bearer',
    'not-before-policy': 0,
    scope: TOKEN_SCOPE,
  };
}

async function password(
  realm: Realm,
  client: Client,
  form: URLSearchParams,
  issuer: string,
): Promise<TokenResponse> {
  if (!client.directAccessGrantsEnabled) throw refusals.directGrantsDisabled();
  const username = form.get('username')?.toLowerCase();
  if (!username) throw refusals.missingUsername();
  const user = realm.users.find(
    (candidate) => candidate.username === username || candidate.email?.toLowerCase() === username,
  );
  if (!user?.enabled || user.password === undefined || user.password !== form.get('password')) {
    throw refusals.invalidUserCredentials();
  }
  const tokens = await mintTokens(realm, client, user, 'password', issuer);
  return {
    access_token: tokens.accessToken,
    expires_in: tokens.expiresIn,
    refresh_expires_in: REFRESH_TOKEN_LIFESPAN,
    refresh_token: tokens.refreshToken ?? '',
    token_type: 'Bearer',
    'not-before-policy': 0,
    session_state: tokens.sessionState ?? '',
    scope: TOKEN_SCOPE,
  };
}

/**
 * `POST /realms/{realm}/protocol/openid-connect/token`: client_credentials and password, in the real server's
 * order of checks (grant type, client authentication, a parameter given twice, then the grant's own). Throws
 * a KeycloakError refusal.
 */
export async function tokenEndpoint(
  realm: Realm,
  form: URLSearchParams,
  authorization: string | undefined,
  issuer: string,
): Promise<TokenResponse> {
  const grantType = form.get('grant_type');
  if (!grantType) throw refusals.missingGrantType();
  if (!SUPPORTED_GRANTS.has(grantType)) throw refusals.unsupportedGrantType();
  const client = authenticatedClient(realm, form, authorization);
  // checkParameterDuplicated: every form key, once the client is authenticated
  const keys = [...form.keys()];
  if (new Set(keys).size !== keys.length) throw refusals.duplicatedParameter();
  return grantType === 'password'
    ? password(realm, client, form, issuer)
    : clientCredentials(realm, client, issuer);
}
