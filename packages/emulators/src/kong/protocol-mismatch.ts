import type { NormalizedKongRoute } from '@modelgate/policy';
import { type KongExit, kongExitError, kongExitJson } from './kong-request.js';

// The runloop's checks between routing and the plugins (kong/runloop/handler.lua, access.before, at 3.9.3): the
// router matches a route whatever the request's protocol, then a route that is https-only, gRPC-only or
// gRPCs-only refuses a request of another kind. A gRPC request matching an HTTP route goes through. The
// emulator listens in cleartext only, so the forwarded protocol is always http.

export const HTTPS_REQUIRED_MESSAGE = 'Please use HTTPS protocol';
export const HTTP2_REQUIRED_MESSAGE = 'Please use HTTP2 protocol';
export const NON_GRPC_MESSAGE = 'Non-gRPC request matched gRPC route';
export const GRPCS_REQUIRED_MESSAGE = 'gRPC request matched gRPCs route';

/** The runloop's refusal of a request whose protocol the matched route does not serve, if any. */
export function protocolMismatch(
  route: NormalizedKongRoute,
  contentType: string | undefined,
  httpVersion: 1 | 2,
): KongExit | undefined {
  const protocols = route.protocols;
  if (protocols.includes('https') && !protocols.includes('http')) {
    // https_redirect_status_code 426 (the default); the emulator serves no TLS
    return kongExitError(426, HTTPS_REQUIRED_MESSAGE, {
      Connection: 'Upgrade',
      Upgrade: 'TLS/1.2, HTTP/1.1',
    });
  }
  if (!protocols.includes('grpc') && !protocols.includes('grpcs')) return undefined;
  if (!contentType?.startsWith('application/grpc')) return kongExitError(415, NON_GRPC_MESSAGE);
  if (httpVersion !== 2) {
    return kongExitError(426, HTTP2_REQUIRED_MESSAGE, { connection: 'Upgrade', upgrade: 'HTTP/2' });
  }
  if (!protocols.includes('grpc')) {
    return kongExitJson(200, {}, { 'grpc-status': '1', 'grpc-message': GRPCS_REQUIRED_MESSAGE });
  }
  return undefined;
}
