import { describe, expect, it } from 'vitest';
import { verificationKeys } from './jwks.js';

// The signing keys of an issuer's JWKS document: keys of types a jwt credential cannot verify with are left out,
// whatever the issuer named their type.

describe('verificationKeys', () => {
  it('leaves out keys of other types, a kty named like an Object.prototype member included', () => {
    const document = {
      keys: [
        { kty: 'oct', k: 'c2VjcmV0' },
        { kty: 'constructor', kid: 'a' },
        { kty: 'toString', kid: 'b', use: 'sig' },
        { kty: 'RSA', kid: 'c', use: 'enc' },
      ],
    };
    expect(verificationKeys(document, 'issuer.jwksFile')).toEqual([]);
  });

  it('says when the document is no JWKS', () => {
    expect(verificationKeys({ keys: 'x' }, 'issuer.jwksFile')).toEqual([
      { path: 'issuer.jwksFile', message: 'is not a JWKS document (no "keys" array)', value: undefined },
    ]);
  });
});
