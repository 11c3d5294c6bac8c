import { createHash } from 'node:crypto';
import { providerEnabled, providerPriority } from './key-provider.js';
import type { Realm } from './realm-store.js';

export interface Jwk {
  kid: string;
  kty: 'RSA';
  alg: string;
  use: 'sig';
  x5c?: string[];
  x5t?: string;
  'x5t#S256'?: string;
  n: string;
  e: string;
}

/** `GET /realms/{realm}/protocol/openid-connect/certs`: every enabled RSA signing key, active or passive. */
export function realmJwks(realm: Realm): { keys: Jwk[] } {
  const providers = realm.keys
    .filter((provider) => provider.rsa && providerEnabled(provider))
    .sort((a, b) => providerPriority(b) - providerPriority(a));
  const keys = providers.map((provider): Jwk => {
    const rsa = provider.rsa;
    if (!rsa) throw new Error('filtered above');
    const { n, e } = rsa.publicKey.export({ format: 'jwk' });
    const algorithm = provider.component.config.algorithm?.[0] ?? 'RS256';
    const certificate =
      rsa.certificate.length === 0
        ? {}
        : {
            x5c: [rsa.certificate.toString('base64')],
            x5t: createHash('sha1').update(rsa.certificate).digest('base64url'),
            'x5t#S256': createHash('sha256').update(rsa.certificate).digest('base64url'),
          };
    return { kid: rsa.kid, kty: 'RSA', alg: algorithm, use: 'sig', ...certificate, n: n ?? '', e: e ?? '' };
  });
  return { keys };
}
