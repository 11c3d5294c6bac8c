/** The issuer refused a token request; carries its status and OAuth error body (Keycloak's, products.md 2d). */
export class TokenRequestError extends Error {
  override readonly name = 'TokenRequestError';
  constructor(
    readonly clientId: string,
    readonly status: number,
    /** `error` of the OAuth error body, e.g. `unauthorized_client`. */
    readonly error: string | undefined,
    readonly errorDescription: string | undefined,
    readonly tokenEndpoint: string,
  ) {
    super(
      `token request for client ${clientId} to ${tokenEndpoint} failed: ${status}` +
        (error ? ` ${error}${errorDescription ? ` (${errorDescription})` : ''}` : ''),
    );
  }
}
