import { describe, expect, it } from 'vitest';
import { carriesBadToken } from './bad-token-share.js';
import { alterSignature, credentialsPerRequest, TokenSource } from './token-supply.js';

describe('token choice', () => {
  it('gives exactly the asked share of bad tokens, spread evenly', () => {
    const bad = Array.from({ length: 1000 }, (_, i) => carriesBadToken(i, 0.1)).filter(Boolean);
    expect(bad).toHaveLength(100);
    expect(Array.from({ length: 10 }, (_, i) => carriesBadToken(i, 0.1))).toEqual([
      ...Array(9).fill(false),
      true,
    ]);
  });

  it('hands out credentials built once per token, round robin, bad ones at the asked share', () => {
    const pick = credentialsPerRequest(
      { good: ['a', 'b'], bad: ['x'], badShare: 0.5 },
      (token) => `Bearer ${token}`,
    );
    expect([0, 1, 2, 3].map(pick)).toEqual([
      { value: 'Bearer a', bad: false },
      { value: 'Bearer x', bad: true },
      { value: 'Bearer a', bad: false },
      { value: 'Bearer x', bad: true },
    ]);
    const none = credentialsPerRequest(null, (token) => token);
    expect(none(7)).toEqual({ value: null, bad: false });
  });

  it('alters only the signature of a bad token', () => {
    const token = 'aaa.bbb.cccAZ';
    const altered = alterSignature(token);
    expect(altered).not.toBe(token);
    expect(altered.split('.').slice(0, 2)).toEqual(['aaa', 'bbb']);
  });
});

describe('TokenSource', () => {
  it('mints once before the run and again only after the refresh interval', async () => {
    let clock = 0;
    let mints = 0;
    const source = new TokenSource(
      async () => ({ good: [`t${++mints}`], bad: [], badShare: 0 }),
      60_000,
      () => clock,
    );
    expect((await source.choice()).good).toEqual(['t1']);
    clock = 59_999;
    expect((await source.choice()).good).toEqual(['t1']);
    clock = 60_000;
    expect((await source.choice()).good).toEqual(['t2']);
  });
});
