import { TokenRequestError } from './token-request-error.js';

// Access tokens for the policy's clients, minted from the issuer with the client-credentials grant before
// they are needed and reused until shortly before they expire. Tokens are never minted on a hot path that
// can avoid it: RS256 signing costs the issuer ~100x what verifying costs the gateway (specs/loadgen.md).
// withToken() retries a call once with a fresh token when the gateway answers 401: that is how a caller rides
// through a key rotation (@modelgate/policy's keyRotationPlan) without seeing a failure.

export interface ClientCredentials {
  clientId: string;
  clientSecret: string;
}

export interface TokenPoolOptions {
  /** `${issuer}/protocol/openid-connect/token`. */
  tokenEndpoint: string;
  clients: readonly ClientCredentials[];
  /** Refresh a token this long before its `expires_in` runs out (default 30 s). */
  refreshMarginSeconds?: number;
  /** Injected for tests. */
  fetch?: typeof fetch;
  /** Milliseconds since the epoch; injected for tests. */
  now?: () => number;
}

interface CachedToken {
  token: string;
  refreshAt: number;
}

/** What counts as "the gateway refused the token": HTTP 401, or gRPC UNAUTHENTICATED (16). */
export function isUnauthorized(outcome: unknown): boolean {
  if (outcome instanceof Response) return outcome.status === 401;
  if (typeof outcome === 'object' && outcome !== null) {
    const { status, code } = outcome as { status?: unknown; code?: unknown };
    return status === 401 || code === 16;
  }
  return false;
}

export class TokenPool {
  readonly #options: Required<Omit<TokenPoolOptions, 'clients'>>;
  readonly #secrets = new Map<string, string>();
  readonly #cache = new Map<string, CachedToken>();
  readonly #inFlight = new Map<string, Promise<string>>();
  #minted = 0;

  constructor(options: TokenPoolOptions) {
    this.#options = {
      tokenEndpoint: options.tokenEndpoint,
      refreshMarginSeconds: options.refreshMarginSeconds ?? 30,
      fetch: options.fetch ?? fetch,
      now: options.now ?? Date.now,
    };
    for (const client of options.clients) this.#secrets.set(client.clientId, client.clientSecret);
  }

  /** How many tokens the pool has minted so far. */
  get minted(): number {
    return this.#minted;
  }

  /** Mints a token for every client now, so that none is minted during a measured run. */
  async prefetch(): Promise<void> {
    await Promise.all([...this.#secrets.keys()].map((clientId) => this.token(clientId)));
  }

  /** A valid token for the client: cached, or minted once however many callers ask at the same time. */
  async token(clientId: string): Promise<string> {
    const cached = this.#cache.get(clientId);
    if (cached && cached.refreshAt > this.#options.now()) return cached.token;
    const pending = this.#inFlight.get(clientId);
    if (pending) return pending;
    const minting = this.#mint(clientId).finally(() => this.#inFlight.delete(clientId));
    this.#inFlight.set(clientId, minting);
    return minting;
  }

  /** Forgets `token` if it is still the client's current one, so the next token() mints afresh. */
  invalidate(clientId: string, token: string): void {
    if (this.#cache.get(clientId)?.token === token) this.#cache.delete(clientId);
  }

  /**
   * Runs `call` with the client's token; if the outcome (result or thrown error) is a 401 or gRPC
   * UNAUTHENTICATED, refreshes the token and runs it once more. The second outcome is final.
   */
  async withToken<T>(clientId: string, call: (token: string) => Promise<T>): Promise<T> {
    const first = await this.token(clientId);
    const outcome = await settle(call(first));
    if (!isUnauthorized(outcome.ok ? outcome.value : outcome.error)) return unwrap(outcome);
    this.invalidate(clientId, first);
    return call(await this.token(clientId));
  }

  async #mint(clientId: string): Promise<string> {
    const secret = this.#secrets.get(clientId);
    if (secret === undefined) throw new Error(`the token pool has no credentials for client ${clientId}`);
    const { tokenEndpoint } = this.#options;
    const response = await this.#options.fetch(tokenEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: clientId,
        client_secret: secret,
      }),
    });
    const body = (await response.json().catch(() => ({}))) as {
      access_token?: string;
      expires_in?: number;
      error?: string;
      error_description?: string;
    };
    if (!response.ok || typeof body.access_token !== 'string') {
      throw new TokenRequestError(
        clientId,
        response.status,
        body.error,
        body.error_description,
        tokenEndpoint,
      );
    }
    const lifetimeMs = (body.expires_in ?? 60) * 1000;
    const marginMs = Math.min(this.#options.refreshMarginSeconds * 1000, lifetimeMs / 2);
    this.#cache.set(clientId, {
      token: body.access_token,
      refreshAt: this.#options.now() + lifetimeMs - marginMs,
    });
    this.#minted++;
    return body.access_token;
  }
}

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

async function settle<T>(promise: Promise<T>): Promise<Settled<T>> {
  try {
    return { ok: true, value: await promise };
  } catch (error) {
    return { ok: false, error };
  }
}

function unwrap<T>(outcome: Settled<T>): T {
  if (outcome.ok) return outcome.value;
  throw outcome.error;
}
