import { describe, expect, it } from 'vitest';
import { carriesBadToken } from './bad-token-share.js';
import { alterSignature, TokenSource, tokenFor } from './token-supply.js';

describe('token choice', () => {
  it('gives exactly the asked share of bad tokens, spread evenly', () => {
    const bad = Array.from({ length: 1000 }, (_, i) => carriesBadToken(i, 0.1)).filter(Boolean);
    expect(bad).toHaveLength(100);
    expect(Array.from({ length: 10 }, (_, i) => carriesBadToken(i, 0.1))).toEqual([
      ...Array(9).fill(false),
      true,
    ]);
  });

  it('hands out good tokens round robin and never a bad one at share 0', () => {
    const choice = { good: ['a', 'b'], bad: ['x', 'y'], badShare: 0 };
    expect([0, 1, 2].map((i) => tokenFor(choice, i))).toEqual([
      { token: 'a', bad: false },
      { token: 'b', bad: false },
      { token: 'a', bad: false },
    ]);
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
