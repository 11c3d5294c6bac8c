import { describe, expect, it } from 'vitest';
import { sameLifetime, TokenLifetime } from './differential-cases.js';

describe('sameLifetime', () => {
  expect.addEqualityTesters([sameLifetime]);

  it('allows the one second Keycloak can put between iat and exp, and no more', () => {
    expect({ lifetime: new TokenLifetime(301) }).toEqual({ lifetime: new TokenLifetime(300) });
    expect({ lifetime: new TokenLifetime(299) }).toEqual({ lifetime: new TokenLifetime(300) });
    expect({ lifetime: new TokenLifetime(302) }).not.toEqual({ lifetime: new TokenLifetime(300) });
    expect({ lifetime: new TokenLifetime(300) }).not.toEqual({ lifetime: 300 });
  });
});
