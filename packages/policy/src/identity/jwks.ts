import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { PolicyIssue } from '../policy-error.js';

// The signing keys of an issuer modelgate does not manage (Okta, Auth0, another Keycloak), from its JWKS
// document saved to a file at compile time. Kong's jwt credential holds one public key and one algorithm
// (products.md 1h), so one key is chosen: the policy's `keyId`, or the document's only signing key.

/** A public key the gateway verifies tokens with, as a Kong jwt credential takes it. */
export interface VerificationKey {
  /** The JWK's `kid`, or `jwk-<n>` (its position) when it has none. */
  kid: string;
  /** The JWS algorithm Kong's credential requires of the token header. */
  algorithm: string;
  /** SPKI PEM. */
  publicKeyPem: string;
}

/** Algorithms a Kong 3.9 jwt credential verifies with a public key, by JWK key type and curve. */
const ALGORITHMS_BY_KEY: Record<string, readonly string[]> = {
  RSA: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'],
  'EC P-256': ['ES256'],
  'EC P-384': ['ES384'],
  'EC P-521': ['ES512'],
};
const DEFAULT_ALGORITHM: Record<string, string> = {
  RSA: 'RS256',
  'EC P-256': 'ES256',
  'EC P-384': 'ES384',
  'EC P-521': 'ES512',
};

interface Jwk extends JsonWebKey {
  kid?: string;
  alg?: string;
  use?: string;
}

function keyKind(jwk: Jwk): string {
  return jwk.kty === 'EC' ? `EC ${jwk.crv}` : String(jwk.kty);
}

/** The usable signing keys of a JWKS document; keys for encryption or of other types are left out. */
export function verificationKeys(document: unknown, at: string): VerificationKey[] | PolicyIssue[] {
  const keys = (document as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) {
    return [{ path: at, message: 'is not a JWKS document (no "keys" array)', value: undefined }];
  }
  const usable: VerificationKey[] = [];
  const issues: PolicyIssue[] = [];
  keys.forEach((entry: Jwk, index) => {
    if (typeof entry !== 'object' || entry === null || entry.use === 'enc') return;
    const kind = keyKind(entry);
    // own keys only: a kty such as `constructor` (the document is the issuer's) is just another unknown type
    const algorithms = Object.hasOwn(ALGORITHMS_BY_KEY, kind) ? ALGORITHMS_BY_KEY[kind] : undefined;
    if (!algorithms) return; // oct, OKP, ...: not a key a jwt credential verifies with here
    const kid = typeof entry.kid === 'string' && entry.kid !== '' ? entry.kid : `jwk-${index}`;
    const algorithm = entry.alg ?? (DEFAULT_ALGORITHM[kind] as string);
    if (!algorithms.includes(algorithm)) {
      issues.push({
        path: `${at}.keys[${index}]`,
        message: `alg ${algorithm} does not fit the ${kind} key (expected one of ${algorithms.join(', ')})`,
        value: kid,
      });
      return;
    }
    if ('d' in entry) {
      issues.push({
        path: `${at}.keys[${index}]`,
        message: 'is a private key: give the public JWKS',
        value: kid,
      });
      return;
    }
    try {
      const { kid: _kid, alg: _alg, use: _use, ...material } = entry;
      const publicKeyPem = createPublicKey({ key: material, format: 'jwk' })
        .export({ type: 'spki', format: 'pem' })
        .toString();
      usable.push({ kid, algorithm, publicKeyPem });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      issues.push({
        path: `${at}.keys[${index}]`,
        message: `is not a valid ${kind} key: ${reason}`,
        value: kid,
      });
    }
  });
  return issues.length > 0 ? issues : usable;
}

/** Reads a JWKS file and picks the key the gateway trusts: `keyId`, or the only signing key. */
export function readJwksKey(
  file: string,
  keyId: string | undefined,
  at: string,
): VerificationKey | PolicyIssue[] {
  let document: unknown;
  try {
    document = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return [{ path: at, message: `cannot read the JWKS file ${file}: ${reason}`, value: file }];
  }
  const keys = verificationKeys(document, at);
  if (keys.length > 0 && 'path' in (keys[0] as object)) return keys as PolicyIssue[];
  const usable = keys as VerificationKey[];
  const kids = usable.map((key) => key.kid).join(', ') || 'none';
  if (keyId !== undefined) {
    const key = usable.find((candidate) => candidate.kid === keyId);
    return (
      key ?? [
        { path: at, message: `${file} has no signing key with kid "${keyId}" (has: ${kids})`, value: keyId },
      ]
    );
  }
  if (usable.length === 1) return usable[0] as VerificationKey;
  return [
    {
      path: at,
      message:
        usable.length === 0
          ? `${file} holds no RSA or EC signing key`
          : `${file} holds ${usable.length} signing keys (${kids}): name the one the gateway trusts in issuer.keyId`,
      value: file,
    },
  ];
}
