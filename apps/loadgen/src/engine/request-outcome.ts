// What one request came to. Errors are grouped by kind for the report: the transport says which kind
// (an HTTP status, a gRPC status name, a transport failure). Refusals the run expects (a bad token's 401
// or UNAUTHENTICATED) are counted apart and do not count as errors.

export type RequestOutcome =
  /** `kong`: the gateway's own split of the time (X-Kong-Proxy-Latency, X-Kong-Upstream-Latency), when sent. */
  | { ok: true; kong?: { proxyMs?: number; upstreamMs?: number } }
  | { ok: false; kind: string; expected: boolean };

export const OK: RequestOutcome = { ok: true };

export function failure(kind: string, expected = false): RequestOutcome {
  return { ok: false, kind, expected };
}

/** Sends request number `index` of the run; resolves with its outcome, never rejects. */
export type SendRequest = (index: number) => Promise<RequestOutcome>;
