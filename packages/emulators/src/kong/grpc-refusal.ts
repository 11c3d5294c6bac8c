import type { OutgoingHttpHeaders } from 'node:http2';
import { kongGrpcStatus } from '@modelgate/policy';
import type { KongExit } from './kong-request.js';

// A refusal as Kong sends it to a gRPC client (kong/pdk/response.lua, products.md 1g): the HTTP status stays
// as :status, with content type application/grpc, and a trailers-only response (HEADERS with END_STREAM)
// carries grpc-status mapped from the status and grpc-message.

/** kong/pdk/response.lua's HTTP_TO_GRPC_MESSAGE: the message kong.response.error sends without its own. */
const GRPC_MESSAGES: Readonly<Record<number, string>> = {
  200: 'OK',
  400: 'InvalidArgument',
  401: 'Unauthenticated',
  403: 'PermissionDenied',
  404: 'NotFound',
  409: 'AlreadyExists',
  429: 'ResourceExhausted',
  499: 'Canceled',
  500: 'Internal',
  501: 'Unimplemented',
  503: 'Unavailable',
  504: 'DeadlineExceeded',
};

function defaultMessage(status: number): string {
  return GRPC_MESSAGES[status] ?? (status >= 500 ? 'Internal' : 'InvalidArgument');
}

/** The grpc-message of an exit: a header the plugin set, else exit's table message, else the status name. */
export function grpcMessageOf(exit: KongExit): string {
  const given = Object.entries(exit.headers).find(([name]) => name.toLowerCase() === 'grpc-message')?.[1];
  if (given !== undefined) return given;
  if (exit.kind === 'json' && exit.table.message !== undefined) return exit.table.message;
  return defaultMessage(exit.status);
}

/** The headers of the trailers-only response for a refusal. */
export function grpcRefusalHeaders(
  exit: KongExit,
  extra: Readonly<Record<string, string>>,
): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = { ':status': exit.status };
  for (const [name, value] of Object.entries({ ...extra, ...exit.headers }))
    headers[name.toLowerCase()] = value;
  headers['content-type'] = 'application/grpc';
  // an exit that sets grpc-status itself keeps it (the runloop's gRPCs-route refusal)
  headers['grpc-status'] = exit.headers['grpc-status'] ?? String(kongGrpcStatus(exit.status));
  headers['grpc-message'] = encodeGrpcMessage(grpcMessageOf(exit));
  return headers;
}

/** gRPC's percent-encoding of grpc-message (printable ASCII except '%' passes as is). */
function encodeGrpcMessage(message: string): string {
  return Array.from(Buffer.from(message, 'utf8'))
    .map((byte) =>
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`,
    )
    .join('');
}
