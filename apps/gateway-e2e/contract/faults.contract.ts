import { GrpcError } from '@modelgate/proto';
import type { StackModel } from '@modelgate/stack';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { gatewayFetch, gatewayGrpc, stack, tokens } from './support/context.js';
import { predictBody, predictRequest } from './support/payloads.js';

// With the model server stopped, calls through the gateway fail promptly with Kong's codes and the gateway
// stays healthy; when the model server is back, calls succeed again without restarting anything.

const controlUrl = inject('controlUrl');
const UNAVAILABLE = controlUrl
  ? null
  : 'the provider offers no way to stop and start one service (a remote stack)';
// Kong's answer depends on how the model server went: refused connections give 502 (gRPC INTERNAL); on a
// container network the stopped server's name no longer resolves, which gives 503 (gRPC UNAVAILABLE).
const UPSTREAM_FAILURES: Record<number, string> = {
  502: 'An invalid response was received from the upstream server',
  503: 'name resolution failed',
};
const PROMPT_MS = 5000;

async function control(service: string, action: 'stop' | 'start'): Promise<void> {
  const response = await fetch(`${controlUrl}/services/${service}/${action}`, { method: 'POST' });
  if (response.status !== 204)
    throw new Error(`${action} ${service}: ${response.status} ${await response.text()}`);
}

describe.skipIf(UNAVAILABLE !== null)('with the model server stopped', () => {
  const client = stack.clients.find((candidate) => candidate.models.length > 0);
  const model = stack.models.find((candidate) => client?.models.includes(candidate.name)) as StackModel;
  let token: string;
  let stopped = false;

  beforeAll(async () => {
    token = await tokens().token(client?.id as string);
    await control('tf-serving', 'stop');
    stopped = true;
  });

  afterAll(async () => {
    if (stopped) await control('tf-serving', 'start');
  });

  it("REST calls fail promptly with Kong's upstream failure and the gateway keeps answering its status", async () => {
    const started = performance.now();
    const answer = await gatewayFetch(`/v1/models/${model.name}:predict`, {
      token,
      body: predictBody(model, 1),
      headers: { accept: 'application/json' },
    });
    expect(performance.now() - started).toBeLessThan(PROMPT_MS);
    expect(Object.keys(UPSTREAM_FAILURES)).toContain(String(answer.status));
    expect(JSON.parse(answer.text)).toMatchObject({ message: UPSTREAM_FAILURES[answer.status] });
    if (stack.gateway.status) expect((await fetch(`${stack.gateway.status}/status/ready`)).status).toBe(200);
  });

  it('gRPC calls fail promptly with INTERNAL or UNAVAILABLE (Kong maps 502 to 13, 503 to 14)', async () => {
    const grpc = gatewayGrpc(token);
    try {
      const started = performance.now();
      const error = await grpc.predict(predictRequest(model, 1)).catch((caught: unknown) => caught);
      expect(performance.now() - started).toBeLessThan(PROMPT_MS);
      expect(error).toBeInstanceOf(GrpcError);
      expect([13, 14]).toContain((error as GrpcError).code);
    } finally {
      grpc.close();
    }
  });

  it('succeed again once the model server is back, with nothing else restarted', {
    timeout: 150_000,
  }, async () => {
    await control('tf-serving', 'start');
    stopped = false;
    const answer = await gatewayFetch(`/v1/models/${model.name}:predict`, {
      token,
      body: predictBody(model, 1),
    });
    expect(answer.status, answer.text).toBe(200);
    const grpc = gatewayGrpc(token);
    try {
      await expect(grpc.predict(predictRequest(model, 1))).resolves.toBeDefined();
    } finally {
      grpc.close();
    }
  });
});

if (UNAVAILABLE) {
  describe('faults', () => {
    it.skip(`are not run: ${UNAVAILABLE}`, () => {});
  });
}
