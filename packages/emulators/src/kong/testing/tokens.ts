import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { DEFAULT_POLICY, DEFAULT_SECRETS, issuerUrl, signingKey } from '@modelgate/policy';
import { type JWTPayload, SignJWT } from 'jose';

// Keycloak-shaped service-account tokens signed with the default policy's key (or another, for bad signatures).

export const POLICY_KEY = signingKey(DEFAULT_SECRETS, 'gen-1').privateKey;

let otherKey: KeyObject | undefined;
/** An RSA key the gateway does not know. */
export function strangerKey(): KeyObject {
  otherKey ??= createPrivateKey(
    generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
  );
  return otherKey;
}

export interface MintOptions {
  /** Claims to add or override; `undefined` values remove the claim. */
  claims?: Record<string, unknown>;
  key?: KeyObject | Uint8Array;
  alg?: string;
  /** Seconds since the epoch the token is issued at. */
  issuedAt: number;
}

export function mintToken(clientId: string, options: MintOptions): Promise<string> {
  const payload: JWTPayload = {
    iss: issuerUrl(DEFAULT_POLICY),
    aud: [DEFAULT_POLICY.issuer.audience, 'account'],
    azp: clientId,
    client_id: clientId,
    typ: 'Bearer',
    iat: options.issuedAt,
    exp: options.issuedAt + DEFAULT_POLICY.issuer.tokenLifetimeSeconds,
  };
  for (const [name, value] of Object.entries(options.claims ?? {})) {
    if (value === undefined) delete payload[name];
    else payload[name] = value;
  }
  return new SignJWT(payload)
    .setProtectedHeader({ alg: options.alg ?? 'RS256', typ: 'JWT' })
    .sign(options.key ?? POLICY_KEY);
}
