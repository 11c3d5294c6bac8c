import { randomBytes, randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { activeKey, type Client, type Realm, type User } from './realm-store.js';

/** The scope every token of this realm setup carries (the realm's default client scopes). */
export const TOKEN_SCOPE = 'profile email';
const REFRESH_TOKEN_SCOPE = 'profile web-origins roles email acr basic';
/** The realm default `ssoSessionIdleTimeout`: a refresh token's lifetime. */
export const REFRESH_TOKEN_LIFESPAN = 1800;

/** How the token came to be: the real server's `jti` prefixes say it (`trrtcc:`, `onrtro:`, `onltro:`). */
export type Grant = 'client_credentials' | 'password';

export interface MintedTokens {
  accessToken: string;
  expiresIn: number;
  refreshToken: string | undefined;
  sessionState: string | undefined;
}

function sessionId(): string {
  return randomBytes(18).toString('base64url');
}

function jtiPrefix(grant: Grant, client: Client): string {
  if (grant === 'client_credentials') return 'trrtcc';
  return client.lightweightTokens ? 'onltro' : 'onrtro';
}

async function signRsa(realm: Realm, claims: Record<string, unknown>): Promise<string> {
  const key = activeKey(realm, 'rsa');
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: key.kid })
    .sign(key.privateKey);
}

async function signHmac(realm: Realm, claims: Record<string, unknown>): Promise<string> {
  const key = activeKey(realm, 'hmac');
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS512', typ: 'JWT', kid: key.kid }).sign(key.secret);
}

function audience(client: Client, user: User): string | string[] | undefined {
  const all = [...client.audiences, ...(user.accountRoles.length > 0 ? ['account'] : [])];
  if (all.length === 0) return undefined;
  return all.length === 1 ? all[0] : all;
}

/** The claims in the order the real server writes them (products.md 2d); `undefined` ones are left out. */
interface AccessTokenContext {
  client: Client;
  user: User;
  grant: Grant;
  issuer: string;
  /** The user session; absent for client_credentials (a transient session). */
  sid: string | undefined;
  now: number;
  lifespan: number;
}

function accessClaims({
  client,
  user,
  grant,
  issuer,
  sid,
  now,
  lifespan,
}: AccessTokenContext): Record<string, unknown> {
  const claims: Record<string, unknown> = {
    exp: now + lifespan,
    iat: now,
    jti: `${jtiPrefix(grant, client)}:${randomUUID()}`,
    iss: issuer,
  };
  if (client.lightweightTokens)
    return { ...claims, typ: 'Bearer', azp: client.clientId, sid, scope: TOKEN_SCOPE };
  const profile =
    grant === 'password'
      ? {
          name: [user.firstName, user.lastName].filter(Boolean).join(' ') || undefined,
          preferred_username: user.username,
          given_name: user.firstName,
          family_name: user.lastName,
          email: user.email,
        }
      : { preferred_username: user.username };
  return {
    ...claims,
    aud: audience(client, user),
    sub: user.id,
    typ: 'Bearer',
    azp: client.clientId,
    sid,
    acr: '1',
    realm_access: { roles: user.realmRoles },
    resource_access: user.accountRoles.length > 0 ? { account: { roles: user.accountRoles } } : undefined,
    scope: TOKEN_SCOPE,
    email_verified: user.emailVerified,
    ...profile,
  };
}

function withoutUndefined(claims: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(claims).filter(([, value]) => value !== undefined));
}

/** Signs the access token with the realm's active RSA key and, for the password grant, an HS512 refresh token. */
export async function mintTokens(
  realm: Realm,
  client: Client,
  user: User,
  grant: Grant,
  issuer: string,
): Promise<MintedTokens> {
  const now = Math.floor(Date.now() / 1000);
  const lifespan = client.accessTokenLifespan ?? realm.accessTokenLifespan;
  // client_credentials makes a transient session: no sid, no refresh token (Keycloak 26 defaults)
  const sid = grant === 'password' ? sessionId() : undefined;
  const accessToken = await signRsa(
    realm,
    withoutUndefined(accessClaims({ client, user, grant, issuer, sid, now, lifespan })),
  );
  if (sid === undefined)
    return { accessToken, expiresIn: lifespan, refreshToken: undefined, sessionState: undefined };
  const aud = client.lightweightTokens ? undefined : audience(client, user);
  const refreshToken = await signHmac(
    realm,
    withoutUndefined({
      exp: now + REFRESH_TOKEN_LIFESPAN,
      iat: now,
      jti: randomUUID(),
      iss: issuer,
      aud: issuer,
      sub: client.lightweightTokens ? undefined : user.id,
      typ: 'Refresh',
      azp: client.clientId,
      sid,
      scope: REFRESH_TOKEN_SCOPE,
      aud_x: aud === undefined ? undefined : [aud].flat(),
      prov: 'default',
    }),
  );
  return { accessToken, expiresIn: lifespan, refreshToken, sessionState: sid };
}
