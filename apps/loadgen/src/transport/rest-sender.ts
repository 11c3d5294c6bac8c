import { Pool } from 'undici';
import { failure, OK, type SendRequest } from '../engine/request-outcome.js';
import { credentialsPerRequest } from '../tokens/token-supply.js';
import type { Sender } from './sender.js';
import type { TransportSpec } from './transport-spec.js';

// REST `:predict` over an undici connection pool. Headers are built once per token; the body is the same
// bytes every time. A response body is read to its end (so the connection is reusable) and dropped.

export function restSender(spec: Extract<TransportSpec, { kind: 'rest' }>): Sender {
  const url = new URL(spec.url);
  const pool = new Pool(url.origin, { connections: spec.connections, pipelining: 1 });
  const path = `${url.pathname}${url.search}`;
  const base = { 'content-type': 'application/json' };
  const credentials = credentialsPerRequest(spec.tokens, (token) =>
    token ? { ...base, authorization: `Bearer ${token}` } : base,
  );
  const send: SendRequest = async (index) => {
    const { value: headers, bad: badToken } = credentials(index);
    try {
      const response = await pool.request({
        path,
        method: 'POST',
        headers,
        body: spec.body,
        headersTimeout: spec.timeoutMs,
        bodyTimeout: spec.timeoutMs,
      });
      await response.body.dump();
      if (response.statusCode < 300) {
        if (badToken) return failure('http:2xx-with-bad-token');
        const proxy = response.headers['x-kong-proxy-latency'];
        const upstream = response.headers['x-kong-upstream-latency'];
        if (typeof proxy !== 'string' && typeof upstream !== 'string') return OK;
        return {
          ok: true,
          kong: {
            ...(typeof proxy === 'string' ? { proxyMs: Number(proxy) } : {}),
            ...(typeof upstream === 'string' ? { upstreamMs: Number(upstream) } : {}),
          },
        };
      }
      return failure(`http:${response.statusCode}`, badToken && response.statusCode === 401);
    } catch (error) {
      return failure(`transport:${(error as { code?: string }).code ?? (error as Error).name}`);
    }
  };
  return { send, close: () => pool.close() };
}
