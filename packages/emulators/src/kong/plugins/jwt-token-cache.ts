import type { NormalizedKongConfig } from '@modelgate/policy';

// A bounded cache of tokens jwt has verified, so a repeated token skips the signature check. An entry belongs
// to the configuration it was verified under (POST /config flushes the cache and a request on another config
// never sees it), is never used at or after the token's exp, and the least recently used entry goes first.

export const DEFAULT_TOKEN_CACHE_ENTRIES = 10_000;

export interface VerifiedToken {
  consumer: string;
  credentialKey: string;
}

interface Entry extends VerifiedToken {
  config: NormalizedKongConfig;
  pluginId: string;
  /** The token's exp (seconds), or null when it has none. */
  exp: number | null;
  /** When it was verified (seconds): a clock set back before that is a miss. */
  verifiedAt: number;
}

/** The numeric exp claim of a compact JWS, or null (no exp, or an unreadable payload). */
export function tokenExp(token: string): number | null {
  const payload = token.split('.')[1];
  if (payload === undefined) return null;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof claims.exp === 'number' ? claims.exp : null;
  } catch {
    return null; // such a token never verified, so it is never cached
  }
}

export class VerifiedTokenCache {
  private readonly entries = new Map<string, Entry>();
  /**
   * The entry last in `entries` (the most recently used) and its token. A client sends the same token again
   * and again: comparing it with this one costs less than hashing ~1 KB for the lookup, and a hit on it is
   * already in place (moving it anyway, delete then set, leaves a deleted slot that V8's hash table compacts
   * by rebuilding itself).
   */
  private newest: Entry | undefined;
  private newestToken: string | undefined;

  constructor(readonly maxEntries = DEFAULT_TOKEN_CACHE_ENTRIES) {}

  get size(): number {
    return this.entries.size;
  }

  /** The verified outcome for `token` under `pluginId` and `config`, if cached and still before exp. */
  get(
    config: NormalizedKongConfig,
    pluginId: string,
    token: string,
    nowSeconds: number,
  ): VerifiedToken | undefined {
    // keyed by the token alone (no key string of 1 KB to build and hash per request); an entry of another
    // plugin instance is a miss, and the two overwrite each other
    const entry = token === this.newestToken ? this.newest : this.entries.get(token);
    if (!entry) return undefined;
    const stale =
      entry.config !== config ||
      entry.pluginId !== pluginId ||
      (entry.exp !== null && nowSeconds >= entry.exp) ||
      nowSeconds < entry.verifiedAt;
    if (stale) {
      this.entries.delete(token);
      if (entry === this.newest) this.remember(undefined, undefined);
      return undefined;
    }
    if (entry !== this.newest) {
      // most recently used goes last
      this.entries.delete(token);
      this.entries.set(token, entry);
      this.remember(token, entry);
    }
    return entry;
  }

  set(
    config: NormalizedKongConfig,
    pluginId: string,
    token: string,
    verified: VerifiedToken,
    nowSeconds: number,
  ): void {
    const entry = { ...verified, config, pluginId, exp: tokenExp(token), verifiedAt: nowSeconds };
    this.entries.delete(token);
    this.entries.set(token, entry);
    this.remember(token, entry);
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
      if (oldest === this.newestToken) this.remember(undefined, undefined); // a cache of no entries
    }
  }

  /** Drops every entry (a new configuration: retired keys and consumers must stop working at once). */
  flush(): void {
    this.entries.clear();
    this.remember(undefined, undefined);
  }

  private remember(token: string | undefined, entry: Entry | undefined): void {
    this.newestToken = token;
    this.newest = entry;
  }
}
