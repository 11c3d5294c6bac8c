import type { KongRequest, KongRequestContext } from './kong-request.js';

// What the log phase knows about one finished request (Kong's ngx.var and ngx.ctx at log time): filled in by
// the proxy pipeline as the request goes, handed to the log-phase plugins (file-log, prometheus) once the
// response is closed.

/** Who produced the response: a plugin or Kong itself, or the upstream. */
export type KongResponseSource = 'exit' | 'error' | 'service';

/** One balancer try (ctx.balancer_data.tries[i]). */
export interface KongBalancerTry {
  balancer_start: number;
  balancer_latency: number;
  ip: string;
  port: number;
}

export interface KongLogRecord {
  request: KongRequest;
  requestId: string;
  /** The request line's URI as the client sent it (ngx.var.request_uri). */
  requestUri: string;
  /** ngx.var.scheme://ngx.var.host:ngx.var.server_port */
  origin: string;
  /** ngx.var.request_length: request line, headers and body. */
  requestSize: number;
  /** The matched route's context, or null when no route matched. */
  context: KongRequestContext | null;
  /** Milliseconds since the epoch (the emulator's clock). */
  startedAt: number;
  /** performance.now() when the request arrived, when it was sent upstream, first answered, and ended. */
  arrivedHr: number;
  upstreamSentHr?: number;
  upstreamAnsweredHr?: number;
  endedHr?: number;
  upstreamUri?: string;
  upstreamStatus?: number;
  tries?: KongBalancerTry[];
  source: KongResponseSource;
  status: number;
  /** The response's headers as sent (name, value, ...). */
  responseHeaders: readonly string[];
  /** ngx.var.bytes_sent (status line, headers and body). */
  responseSize: number;
  /** r->keepalive when the log phase runs (ngx.resp.get_headers' `connection`); keep-alive unless false. */
  keepAlive?: boolean;
  /** Whether the answer went out chunked (HTTP/1.1 without a Content-Length). */
  chunked?: boolean;
}

/** log.lua's latencies: kong (Kong's own time), proxy (-1 when nothing was proxied) and request. */
export function kongLatencies(record: KongLogRecord): { kong: number; proxy: number; request: number } {
  const request = elapsedMs(record.arrivedHr, record.endedHr);
  if (record.upstreamSentHr === undefined) return { kong: request, proxy: -1, request };
  const proxy = elapsedMs(record.upstreamSentHr, record.upstreamAnsweredHr);
  const kong =
    elapsedMs(record.arrivedHr, record.upstreamSentHr) +
    elapsedMs(record.upstreamAnsweredHr ?? record.upstreamSentHr, record.endedHr);
  return { kong, proxy, request };
}

/** Whole milliseconds between two performance.now() readings, never negative. */
export function elapsedMs(from: number, to: number | undefined): number {
  return to === undefined ? 0 : Math.max(0, Math.round(to - from));
}
