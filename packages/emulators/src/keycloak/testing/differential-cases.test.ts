import { describe, expect, it } from 'vitest';
import { sameLifetime, TokenLifetime } from './differential-cases.js';

describe('sameLifetime', () => {
  expect.addEqualityTesters([sameLifetime]);
  const view = (seconds: number, kind: 'access' | 'refresh') => ({
    lifetime: new TokenLifetime(seconds, kind),
  });

  it('allows the real access token the second Keycloak can put between iat and exp, and no more', () => {
    expect(view(300, 'access')).toEqual(view(300, 'access'));
    expect(view(300, 'access')).toEqual(view(301, 'access'));
    expect(view(301, 'access')).not.toEqual(view(300, 'access'));
    expect(view(300, 'access')).not.toEqual(view(302, 'access'));
  });

  it('holds refresh tokens to the exact lifetime, and never matches one kind with the other', () => {
    expect(view(1800, 'refresh')).toEqual(view(1800, 'refresh'));
    expect(view(1800, 'refresh')).not.toEqual(view(1801, 'refresh'));
    expect(view(300, 'access')).not.toEqual(view(300, 'refresh'));
    expect(view(300, 'access')).not.toEqual({ lifetime: 300 });
  });
});
