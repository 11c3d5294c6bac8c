import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import { createPromiseClient, PredictionService } from '@modelgate/proto';
import { clientSecretOf, type StackDescription, TokenPool } from '@modelgate/stack';
import { inject } from 'vitest';

// What every contract file works with: the stack description (nothing else about the stack), a token pool for
// its clients, and clients for REST, gRPC, raw HTTP/1.1, the model server's metrics and the audit log.

export const stack: StackDescription = inject('stack');

let pool: TokenPool | undefined;

/** Tokens minted from the stack's issuer, one per client, reused and refreshed. */
export function tokens(): TokenPool {
  pool ??= new TokenPool({
    tokenEndpoint: stack.issuer.tokenUrl,
    clients: stack.clients.map((client) => ({ clientId: client.id, clientSecret: clientSecretOf(client) })),
  });
  return pool;
}

export interface HttpAnswer {
  status: number;
  headers: Headers;
  text: string;
}

/** A REST call through the gateway. */
export async function gatewayFetch(
  path: string,
  init: {
    method?: string;
    token?: string | null;
    body?: string | Uint8Array;
    headers?: Record<string, string>;
  } = {},
): Promise<HttpAnswer> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  if (init.body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
  const response = await fetch(`${stack.gateway.http}${path}`, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers,
    ...(init.body === undefined ? {} : { body: init.body }),
  });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

/** A Predict client through the gateway's gRPC listener, with the token as bearer metadata. */
export function gatewayGrpc(token: string | null) {
  return createPromiseClient(PredictionService, stack.gateway.grpc, token ? { bearerToken: token } : {});
}

/**
 * An HTTP/1.1 request written on a socket as given: the path exactly as written (fetch would normalize dot
 * segments and double slashes before they leave the client).
 */
export function rawHttp(
  method: string,
  path: string,
  headers: Record<string, string>,
  body = '',
): Promise<{ status: number; head: string; body: string }> {
  const url = new URL(stack.gateway.http);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port || 80), url.hostname);
    const chunks: Buffer[] = [];
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no answer to ${method} ${path}`)));
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head = '', ...rest] = text.split('\r\n\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      resolve({ status, head, body: rest.join('\r\n\r\n') });
    });
    const lines = [
      `${method} ${path} HTTP/1.1`,
      `Host: ${url.host}`,
      'Connection: close',
      ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
      `Content-Length: ${Buffer.byteLength(body)}`,
      '',
      body,
    ];
    socket.end(lines.join('\r\n'));
  });
}

/** The model server's total request count (TF Serving's :tensorflow:serving:request_count), or null without metrics. */
export async function modelServerRequests(): Promise<number | null> {
  if (!stack.modelServer.metrics) return null;
  const text = await (await fetch(stack.modelServer.metrics)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(':tensorflow:serving:request_count')) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

const run = promisify(execFile);

/** Every audit line the gateway has written, or null where the stack does not expose its log. */
export async function auditRecords(): Promise<Record<string, unknown>[] | null> {
  const { auditLog } = stack;
  let text: string;
  if (auditLog.kind === 'file') text = await readFile(auditLog.path, 'utf8');
  else if (auditLog.kind === 'container')
    text = (await run('docker', ['exec', auditLog.container, 'cat', auditLog.path])).stdout;
  else return null;
  // only complete lines: an append in progress (Kong's or the emulator's) may show its last line in part
  return text
    .slice(0, text.lastIndexOf('\n') + 1)
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** The audit record of one request, by its correlation id, waiting for the log line to be written. */
export async function auditRecordOf(
  correlationId: string,
  timeoutMs = 5000,
): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const records = (await auditRecords()) ?? [];
    const found = records.find((record) => record.correlation_id === correlationId);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no audit line with correlation id ${correlationId}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export const CORRELATION_HEADER = 'kong-request-id';

/** Clients with at least one model, and one allowed some models but not all, from the description. */
export function clientAllowed(model: string) {
  return stack.clients.find((client) => client.models.includes(model));
}
