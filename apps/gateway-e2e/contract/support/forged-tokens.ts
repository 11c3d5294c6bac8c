import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import { inject } from 'vitest';
import { stack } from './context.js';

// Tokens made here rather than by the issuer, to show what the gateway refuses: bad claims signed with the
// issuer's own key (where the suite knows it), other keys, other algorithms, no signature at all.

const pem = inject('signingKeyPem');

/** Why the forged-claim cases cannot run, or null when they can. */
export const FORGING_UNAVAILABLE = pem
  ? null
  : "the issuer's signing key is not known to the suite (set MODELGATE_POLICY_FILE and MODELGATE_SECRETS_FILE)";

const issuerKey = (): KeyObject => createPrivateKey(pem as string);

/** A stranger's RSA key: a signature the gateway cannot verify. */
export const STRANGER_KEY = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** Claims like the issuer's for a client, valid now; overrides replace them (undefined removes one). */
export function claimsFor(client: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = nowSeconds();
  const claims: Record<string, unknown> = {
    iss: stack.issuer.issuer,
    aud: [stack.issuer.audience, 'account'],
    [stack.issuer.clientClaim]: client,
    iat: now,
    exp: now + 120,
    typ: 'Bearer',
    ...overrides,
  };
  for (const [name, value] of Object.entries(claims)) if (value === undefined) delete claims[name];
  return claims;
}

export function signed(
  claims: Record<string, unknown>,
  options: { key?: KeyObject; alg?: string } = {},
): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: options.alg ?? 'RS256', typ: 'JWT' })
    .sign(options.key ?? issuerKey());
}

/** An unsecured JWT (`alg: none`, empty signature). */
export function unsigned(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`;
}

/** HS256 over the issuer's public key PEM as the secret: the classic RS/HS confusion. */
export async function hmacWithPublicKey(claims: Record<string, unknown>): Promise<string> {
  const publicPem = (await (await fetch(stack.issuer.jwksUrl)).text()).slice(0, 64);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .sign(new TextEncoder().encode(publicPem));
}
