import { toBinary } from '@bufbuild/protobuf';
import { methodPath, PredictionService, PredictRequestSchema } from '@modelgate/proto';
import type { StackClient, StackModel } from '@modelgate/stack';
import { beforeAll, describe, expect, it } from 'vitest';
import { gatewayFetch, stack, tokens } from './support/context.js';
import { predictBody, predictRequest } from './support/payloads.js';
import { grpcFrame, rawGrpcCall } from './support/raw-grpc.js';

// The gateway's limits: past a client's per-second rate it answers 429 with Kong's body and headers (gRPC:
// RESOURCE_EXHAUSTED), that client only; a body over the size limit gets 413.

const limited = stack.clients
  .filter((client) => client.models.length > 0 && client.limits.second !== undefined)
  .sort((a, b) => (a.limits.second as number) - (b.limits.second as number))[0] as StackClient;
const other = stack.clients.find((client) => client !== limited && client.models.length > 0) as StackClient;
const modelOf = (client: StackClient) =>
  stack.models.find((model) => client.models.includes(model.name)) as StackModel;

/** Waits for the start of the next second, so a burst falls in as few rate-limit windows as possible. */
async function nextSecond(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 20));
}

describe('rate limits', () => {
  let token: string;
  let otherToken: string;

  beforeAll(async () => {
    if (!limited || !other)
      throw new Error('the suite needs two clients with models, one with a per-second limit');
    token = await tokens().token(limited.id);
    otherToken = await tokens().token(other.id);
  });

  it("refuse a client past its per-second limit with 429 and Kong's headers, and not another client", async () => {
    const limit = limited.limits.second as number;
    const model = modelOf(limited);
    const burst = 2 * limit + 5; // more than two windows' worth: some are refused wherever the second turns
    await nextSecond();
    const answers = await Promise.all(
      Array.from({ length: burst }, () =>
        gatewayFetch(`/v1/models/${model.name}:predict`, { token, body: predictBody(model, 1) }),
      ),
    );
    const refused = answers.filter((answer) => answer.status === 429);
    expect(refused.length).toBeGreaterThanOrEqual(5);
    expect(answers.filter((answer) => answer.status !== 429).every((answer) => answer.status === 200)).toBe(
      true,
    );
    const [first] = refused;
    expect(JSON.parse(first?.text ?? '{}')).toMatchObject({ message: 'API rate limit exceeded' });
    expect(first?.headers.get('x-ratelimit-limit-second')).toBe(String(limit));
    expect(first?.headers.get('x-ratelimit-remaining-second')).toBe('0');
    expect(first?.headers.get('ratelimit-remaining')).toBe('0');
    expect(Number(first?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const elsewhere = await gatewayFetch(`/v1/models/${modelOf(other).name}:predict`, {
      token: otherToken,
      body: predictBody(modelOf(other), 1),
    });
    expect(elsewhere.status).toBe(200);
    await nextSecond();
  });

  it('refuse over gRPC with :status 429 and RESOURCE_EXHAUSTED', async () => {
    const limit = limited.limits.second as number;
    const model = modelOf(limited);
    const body = grpcFrame(toBinary(PredictRequestSchema, predictRequest(model, 1)));
    await nextSecond();
    const answers = await Promise.all(
      Array.from({ length: 2 * limit + 5 }, () =>
        rawGrpcCall(methodPath(PredictionService.method.predict), body, { authorization: `Bearer ${token}` }),
      ),
    );
    const refused = answers.filter((answer) => answer.httpStatus === 429);
    expect(refused.length).toBeGreaterThanOrEqual(5);
    expect(refused[0]).toMatchObject({ grpcStatus: 8 });
    await nextSecond();
  });
});

describe('the size limit', () => {
  it("refuses a body over it with 413 and Kong's message", async () => {
    const client = stack.clients.find((candidate) => candidate.models.length > 0) as StackClient;
    const model = modelOf(client);
    const token = await tokens().token(client.id);
    const body = new Uint8Array(stack.gateway.maxBodyBytes + 1).fill(0x20);
    const answer = await gatewayFetch(`/v1/models/${model.name}:predict`, { token, body });
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.text)).toMatchObject({ message: 'Request size limit exceeded' });
  });
});
