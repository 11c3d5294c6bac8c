import type { TokenPool } from '@modelgate/stack';
import { carriesBadToken } from './bad-token-share.js';

// The tokens a run sends, minted before it starts (never in the hot path): `distinct` tokens of one client,
// handed out round robin (one reused token, or one per request when there are as many as requests), and a
// share of bad tokens (a valid token with its signature altered) whose refusals are expected outcomes.

export interface TokenChoice {
  good: string[];
  bad: string[];
  /** 0..1: which share of requests carries a bad token. */
  badShare: number;
}

/**
 * What each request sends for its token, built once per token before the run (`make(null)` where the run
 * has no tokens): request `index` gets its prebuilt value round robin, a bad token's where the bad share
 * says, and whether it is a bad one (its refusal is then expected).
 */
export function credentialsPerRequest<T>(
  choice: TokenChoice | null,
  make: (token: string | null) => T,
): (index: number) => { value: T; bad: boolean } {
  if (!choice) {
    const none = { value: make(null), bad: false };
    return () => none;
  }
  const good = choice.good.map(make);
  const bad = choice.bad.map(make);
  return (index) => {
    const isBad = bad.length > 0 && carriesBadToken(index, choice.badShare);
    const set = isBad ? bad : good;
    return { value: set[index % set.length] as T, bad: isBad };
  };
}

/** A token whose signature no longer matches: the gateway must refuse it with 401 / UNAUTHENTICATED. */
export function alterSignature(token: string): string {
  const last = token.at(-2) === 'A' ? 'B' : 'A';
  return `${token.slice(0, -2)}${last}${token.slice(-1)}`;
}

/** Mints `distinct` tokens for the client (each a fresh client-credentials grant) and derives the bad ones. */
export async function mintTokenChoice(
  pool: TokenPool,
  clientId: string,
  options: { distinct: number; badShare: number },
): Promise<TokenChoice> {
  const good: string[] = [];
  for (let i = 0; i < options.distinct; i++) {
    const token = await pool.token(clientId);
    good.push(token);
    pool.invalidate(clientId, token);
  }
  return { good, bad: options.badShare > 0 ? good.map(alterSignature) : [], badShare: options.badShare };
}

/**
 * Tokens for a run longer than a token lives: `choice()` gives the minted set, and mints a new one between
 * measurements once `refreshAfterMs` has passed (never during a measurement: a measurement's senders hold
 * the set they were built with).
 */
export class TokenSource {
  #choice: TokenChoice | undefined;
  #mintedAt = 0;

  constructor(
    private readonly mint: () => Promise<TokenChoice>,
    private readonly refreshAfterMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  async choice(): Promise<TokenChoice> {
    if (!this.#choice || this.now() - this.#mintedAt >= this.refreshAfterMs) {
      this.#choice = await this.mint();
      this.#mintedAt = this.now();
    }
    return this.#choice;
  }
}
