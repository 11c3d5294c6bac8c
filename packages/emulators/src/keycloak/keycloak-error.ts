/**
 * A refusal as the real Keycloak 26.7.3 answers it: status, compact JSON body and the headers that came with it
 * (seen from the real server, products.md 2d and the differential table).
 */
export class KeycloakError extends Error {
  override readonly name = 'KeycloakError';

  constructor(
    readonly status: number,
    readonly body: Record<string, string>,
    readonly headers: Record<string, string> = {},
  ) {
    super(`${status} ${JSON.stringify(body)}`);
  }
}

/** Token-endpoint answers carry these, refusals included. */
export const TOKEN_HEADERS = { 'cache-control': 'no-store', pragma: 'no-cache' };

const INVALID_CLIENT_CREDENTIALS = 'Invalid client or Invalid client credentials';

export const refusals = {
  realmMissing: () => new KeycloakError(404, { error: 'Realm does not exist' }),
  methodNotAllowed: () => new KeycloakError(405, { error: 'HTTP 405 Method Not Allowed' }),
  notFound: () => new KeycloakError(404, { error: 'HTTP 404 Not Found' }),
  missingGrantType: () =>
    new KeycloakError(
      400,
      { error: 'invalid_request', error_description: 'Missing form parameter: grant_type' },
      TOKEN_HEADERS,
    ),
  unsupportedGrantType: () =>
    new KeycloakError(
      400,
      { error: 'unsupported_grant_type', error_description: 'Unsupported grant_type' },
      TOKEN_HEADERS,
    ),
  /** A form parameter given more than once (TokenEndpoint's checkParameterDuplicated, after client authentication). */
  duplicatedParameter: () =>
    new KeycloakError(
      400,
      { error: 'invalid_request', error_description: 'duplicated parameter' },
      TOKEN_HEADERS,
    ),
  /** No client id, or one the realm does not know. */
  invalidClient: () =>
    new KeycloakError(
      401,
      { error: 'invalid_client', error_description: INVALID_CLIENT_CREDENTIALS },
      TOKEN_HEADERS,
    ),
  /** A known client with a wrong or missing secret. */
  wrongClientSecret: () =>
    new KeycloakError(
      401,
      { error: 'unauthorized_client', error_description: INVALID_CLIENT_CREDENTIALS },
      TOKEN_HEADERS,
    ),
  publicClientServiceAccount: () =>
    new KeycloakError(
      401,
      {
        error: 'unauthorized_client',
        error_description: 'Public client not allowed to retrieve service account',
      },
      TOKEN_HEADERS,
    ),
  serviceAccountDisabled: () =>
    new KeycloakError(
      400,
      { error: 'unauthorized_client', error_description: 'Client not enabled to retrieve service account' },
      TOKEN_HEADERS,
    ),
  directGrantsDisabled: () =>
    new KeycloakError(
      400,
      { error: 'unauthorized_client', error_description: 'Client not allowed for direct access grants' },
      TOKEN_HEADERS,
    ),
  missingUsername: () =>
    new KeycloakError(
      401,
      { error: 'invalid_request', error_description: 'Missing parameter: username' },
      TOKEN_HEADERS,
    ),
  invalidUserCredentials: () =>
    new KeycloakError(
      400,
      { error: 'invalid_grant', error_description: 'Invalid user credentials' },
      TOKEN_HEADERS,
    ),
  introspectionNoClient: () =>
    new KeycloakError(401, { error: 'invalid_client', error_description: INVALID_CLIENT_CREDENTIALS }),
  introspectionWrongSecret: () =>
    new KeycloakError(401, { error: 'invalid_client', error_description: 'Client authentication failed.' }),
  introspectionPublicClient: () =>
    new KeycloakError(403, { error: 'invalid_request', error_description: 'Client not allowed.' }),
  introspectionNoToken: () =>
    new KeycloakError(400, { error: 'invalid_request', error_description: 'Token not provided.' }),
  adminUnauthorized: () => new KeycloakError(401, { error: 'HTTP 401 Unauthorized' }),
  adminRealmMissing: () => new KeycloakError(404, { error: 'Realm not found.' }),
  componentMissing: () => new KeycloakError(404, { error: 'Could not find component' }),
  noSuchProvider: () => new KeycloakError(400, { error: 'Invalid provider type or no such provider' }),
  undecodablePrivateKey: () => new KeycloakError(400, { errorMessage: 'Failed to decode private key' }),
  undecodableCertificate: () => new KeycloakError(400, { errorMessage: 'Failed to decode certificate' }),
  badJson: () => new KeycloakError(400, { error: 'unknown_error' }),
  noActiveKey: () => new KeycloakError(500, { error: 'unknown_error' }),
} as const;
