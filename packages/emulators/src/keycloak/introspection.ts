import { decodeProtectedHeader, errors, jwtVerify } from 'jose';
import { authenticateClient } from './client-authentication.js';
import { providerEnabled } from './key-provider.js';
import { refusals } from './keycloak-error.js';
import type { Realm } from './realm-store.js';

export type IntrospectionResponse = { active: false } | ({ active: true } & Record<string, unknown>);

const INACTIVE: IntrospectionResponse = { active: false };

async function verifiedClaims(
  realm: Realm,
  token: string,
  issuer: string,
): Promise<Record<string, unknown> | undefined> {
  let kid: string | undefined;
  try {
    kid = decodeProtectedHeader(token).kid;
  } catch (error) {
    if (error instanceof errors.JOSEError || error instanceof TypeError) return undefined;
    throw error;
  }
  const key = realm.keys.find((provider) => provider.rsa?.kid === kid && providerEnabled(provider))?.rsa;
  if (!key) return undefined;
  try {
    const { payload } = await jwtVerify(token, key.publicKey, { issuer, algorithms: ['RS256'] });
    return payload.typ === 'Bearer' ? payload : undefined;
  } catch (error) {
    if (error instanceof errors.JOSEError) return undefined;
    throw error;
  }
}

/**
 * `POST .../token/introspect` (RFC 7662). Keycloak 26.7 answers a token as active only when the introspecting
 * client is in its audience ("Client '<id>' is not in the token audience" in its log otherwise); a token whose
 * signature, key, issuer or expiry fails is inactive too. Public clients may not introspect.
 */
export async function introspectionEndpoint(
  realm: Realm,
  form: URLSearchParams,
  authorization: string | undefined,
  issuer: string,
): Promise<IntrospectionResponse> {
  const authentication = authenticateClient(realm, form, authorization);
  if (!authentication.ok) {
    throw authentication.reason === 'wrong-secret'
      ? refusals.introspectionWrongSecret()
      : refusals.introspectionNoClient();
  }
  if (authentication.client.publicClient) throw refusals.introspectionPublicClient();
  const token = form.get('token');
  if (!token) throw refusals.introspectionNoToken();
  const claims = await verifiedClaims(realm, token, issuer);
  if (!claims) return INACTIVE;
  if (![claims.aud].flat().includes(authentication.client.clientId)) return INACTIVE;
  return {
    ...claims,
    client_id: claims.azp,
    username: claims.preferred_username,
    token_type: 'Bearer',
    active: true,
  };
}
