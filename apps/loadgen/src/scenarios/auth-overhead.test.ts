import { DEFAULT_POLICY, DEFAULT_SECRETS } from '@modelgate/policy';
import { type RunningStack, startEmulatorStack } from '@modelgate/stack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientTokens } from '../target/client-tokens.js';
import { stackTarget } from '../target/load-target.js';
import { runAuthOverhead } from './auth-overhead.js';
import { DEFAULT_LOAD_SETTINGS } from './load-settings.js';

// The A/B against a real (emulated) stack with the gateway's variants: all four arms answer, a share of bad tokens is refused by the gateway
// and counted as expected, never as errors, and the deltas are paired by block.

let stack: RunningStack;
beforeAll(async () => {
  stack = await startEmulatorStack({
    policy: DEFAULT_POLICY,
    secrets: DEFAULT_SECRETS,
    gatewayVariants: true,
  });
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

describe.each(['grpc', 'rest'] as const)('auth-overhead over %s on the emulator stack', (transport) => {
  it('measures all four arms, counts bad-token refusals as expected, and pairs the deltas by block', async () => {
    const target = stackTarget(stack.description, 'emulators');
    const tokens = await clientTokens(target, 'half_plus_two', {
      client: undefined,
      distinct: 2,
      badShare: 0.25,
    });
    const result = await runAuthOverhead({
      settings: { ...DEFAULT_LOAD_SETTINGS, transport, warmupMs: 100, windowMs: 200 },
      target,
      load: { kind: 'open', schedule: { kind: 'constant', rate: 40 }, maxInFlight: 64 },
      batchSize: 2,
      blocks: 2,
      blockMs: 500,
      tokens,
    });
    const [direct, noAuth, jwt, gateway] = result.results;
    expect(result.results.map((point) => point.label)).toEqual([
      'direct',
      'gateway-no-auth',
      'jwt',
      'full-policy',
    ]);
    expect(direct).toMatchObject({ requests: 40, ok: 40, errors: {}, expectedRefusals: {} });
    expect(noAuth).toMatchObject({ requests: 40, ok: 40, errors: {}, expectedRefusals: {} });
    // the jwt arm refuses the altered signatures too
    expect(jwt).toMatchObject({ requests: 40, ok: 30, errors: {} });
    // every 4th request carries an altered signature: 10 of 40
    const refusal = transport === 'grpc' ? 'grpc:UNAUTHENTICATED' : 'http:401';
    expect(gateway).toMatchObject({ requests: 40, ok: 30, errors: {}, expectedRefusals: { [refusal]: 10 } });
    expect(gateway?.inferencesPerSecond).toBe(60);
    expect(result.deltas.filter((delta) => delta.arm === 'full-policy').map((delta) => delta.metric)).toEqual(
      ['p50', 'p90', 'p99', 'p999', 'achievedRps'],
    );
    expect(result.deltas[0]?.blocks).toBe(2);
    expect(result.unavailableArms).toEqual([]);
    expect(result.deltas.map((delta) => delta.arm)).toContain('jwt');
    if (transport === 'rest') expect(gateway?.kongLatencyMs.proxy).not.toBeNull();
  });
});
