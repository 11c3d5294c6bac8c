import { toBinary } from '@bufbuild/protobuf';
import { methodPath, PredictionService, PredictRequestSchema } from '@modelgate/proto';
import type { StackModel } from '@modelgate/stack';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { recordOutcome } from './support/access-report.js';
import { auditRecords, CORRELATION_HEADER, gatewayFetch, stack, tokens } from './support/context.js';
import { predictBody, predictRequest } from './support/payloads.js';
import { grpcFrame, rawGrpcCall } from './support/raw-grpc.js';

// Every request leaves exactly one audit line, allowed or refused, with the consumer, route, model, requested
// version, status, latencies and correlation id, and the token never in clear. After a burst of concurrent
// requests the lines equal the requests sent: none lost, none doubled.

const NO_AUDIT_LOG =
  stack.auditLog.kind === 'none' ? 'the stack does not expose its audit log (auditLog.kind none)' : null;
const reportDir = inject('reportDir');

const full = stack.clients.find((client) => client.models.length > 0);
const model = stack.models.find((candidate) => full?.models.includes(candidate.name)) as StackModel;
const partial = stack.clients.find(
  (client) =>
    client.models.length > 0 && stack.models.some((candidate) => !client.models.includes(candidate.name)),
);
const forbidden = stack.models.find((candidate) => partial && !partial.models.includes(candidate.name));

interface Sent {
  id: string;
  consumer: string | null;
  model: string | null;
  version: string | null;
  status: number;
}

const BURST = 40;

describe.skipIf(NO_AUDIT_LOG !== null)('the audit log', () => {
  let fullToken: string;
  let partialToken: string;
  const sent: Sent[] = [];

  beforeAll(async () => {
    if (!full || !partial || !forbidden)
      throw new Error('the suite needs a client allowed some models but not all');
    fullToken = await tokens().token(full.id);
    partialToken = await tokens().token(partial.id);
  });

  it(`takes a burst of ${BURST} concurrent requests, allowed and refused, over REST and gRPC`, async () => {
    const kinds = Array.from({ length: BURST }, (_, index) => index % 5);
    const results = await Promise.all(
      kinds.map(async (kind): Promise<Sent> => {
        if (kind === 0 || kind === 1) {
          const version = kind === 1 ? model.servedVersions[0] : undefined;
          const path =
            version === undefined
              ? `/v1/models/${model.name}:predict`
              : `/v1/models/${model.name}/versions/${version}:predict`;
          const answer = await gatewayFetch(path, { token: fullToken, body: predictBody(model, 1) });
          return {
            id: answer.headers.get(CORRELATION_HEADER) ?? '',
            consumer: full?.id ?? null,
            model: model.name,
            version: version === undefined ? 'latest' : String(version),
            status: answer.status,
          };
        }
        if (kind === 2) {
          const answer = await gatewayFetch(`/v1/models/${forbidden?.name}:predict`, {
            token: partialToken,
            body: '{"instances":[1.0]}',
          });
          return {
            id: answer.headers.get(CORRELATION_HEADER) ?? '',
            consumer: partial?.id ?? null,
            model: forbidden?.name ?? null,
            version: 'latest',
            status: answer.status,
          };
        }
        if (kind === 3) {
          const answer = await gatewayFetch(`/v1/models/${model.name}:predict`, {
            body: predictBody(model, 1),
          });
          return {
            id: answer.headers.get(CORRELATION_HEADER) ?? '',
            consumer: null,
            model: null,
            version: null,
            status: answer.status,
          };
        }
        const body = grpcFrame(toBinary(PredictRequestSchema, predictRequest(model, 1)));
        const answer = await rawGrpcCall(methodPath(PredictionService.method.predict), body, {
          authorization: `Bearer ${fullToken}`,
        });
        const id = answer.headers[CORRELATION_HEADER];
        return {
          id: typeof id === 'string' ? id : '',
          consumer: full?.id ?? null,
          model: model.name,
          version: 'latest',
          status: answer.httpStatus,
        };
      }),
    );
    sent.push(...results);
    expect(results.map((result) => result.status).sort()).toEqual(
      [...kinds.map((kind) => (kind === 2 ? 403 : kind === 3 ? 401 : 200))].sort(),
    );
    expect(new Set(results.map((result) => result.id)).size).toBe(BURST);
  });

  it('has exactly one line per request sent, none lost and none doubled', async () => {
    const ids = new Set(sent.map((request) => request.id));
    let lines: Record<string, unknown>[] = [];
    for (let attempt = 0; attempt < 50; attempt++) {
      lines = ((await auditRecords()) ?? []).filter((line) => ids.has(line.correlation_id as string));
      if (lines.length >= ids.size) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const counts = new Map<string, number>();
    for (const line of lines)
      counts.set(line.correlation_id as string, (counts.get(line.correlation_id as string) ?? 0) + 1);
    const lost = [...ids].filter((id) => !counts.has(id));
    const doubled = [...counts].filter(([, count]) => count > 1);
    recordOutcome(reportDir, {
      kind: 'figure',
      name: 'audit-log completeness',
      value: `${counts.size} of ${ids.size} requests logged (${lost.length} lost, ${doubled.length} logged twice)`,
    });
    expect({ lost, doubled }).toEqual({ lost: [], doubled: [] });
  });

  it('says who called which model and version, the outcome and the latencies, for each', async () => {
    const byId = new Map(((await auditRecords()) ?? []).map((line) => [line.correlation_id as string, line]));
    for (const request of sent) {
      const line = byId.get(request.id) as Record<string, unknown>;
      expect(line, request.id).toBeDefined();
      expect((line.response as { status: number }).status).toBe(request.status);
      expect((line.route as { name?: string } | undefined)?.name).toBeTruthy();
      expect(line.latencies).toMatchObject({ kong: expect.any(Number), request: expect.any(Number) });
      expect((line.consumer as { username?: string } | undefined)?.username ?? null).toBe(request.consumer);
      if (request.model)
        expect({ model: line.model, version: line.model_version }).toEqual({
          model: request.model,
          version: request.version,
        });
    }
  });

  it('never holds the authorization header in clear', async () => {
    // Kong writes the header as REDACTED. (A token a client puts in the query string would stay in the logged
    // URI, as Kong logs it; the gateway refuses such requests, and the authentication cases send one.)
    const ids = new Set(sent.map((request) => request.id));
    const lines = ((await auditRecords()) ?? []).filter((line) => ids.has(line.correlation_id as string));
    expect(lines.length).toBe(BURST);
    for (const line of lines) {
      const headers = (line.request as { headers?: Record<string, unknown> }).headers ?? {};
      if ('authorization' in headers) expect(headers.authorization).toBe('REDACTED');
    }
    const text = JSON.stringify(lines);
    for (const token of [fullToken, partialToken]) expect(text).not.toContain(token.split('.')[2]);
    expect(text).not.toMatch(/Bearer /);
  });
});

if (NO_AUDIT_LOG) {
  describe('the audit log', () => {
    it.skip(`is not checked: ${NO_AUDIT_LOG}`, () => {});
  });
}
