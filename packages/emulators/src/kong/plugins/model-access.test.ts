import {
  DEFAULT_POLICY,
  DEFAULT_SECRETS,
  kongGrpcStatus,
  type ModelAccessCase,
  type ModelAccessCaseTable,
  modelAccessCases,
  type NormalizedKongConfig,
  TOKEN_CLAIM_POLICY,
} from '@modelgate/policy';
import { beforeAll, describe, expect, it } from 'vitest';
import { grpcMessageOf } from '../grpc-refusal.js';
import { ManualClock } from '../kong-clock.js';
import type { KongExit } from '../kong-request.js';
import { defaultKongConfig, requestContext } from '../testing/request-context.js';
import { modelAccessPlugin } from './model-access.js';

// The shared case tables (packages/policy, the same ones the Lua plugin passes under LuaJIT), run against the
// emulator's plugin function. kong-emulator.test.ts runs the cases jwt can admit through the whole proxy.

let table: ModelAccessCaseTable;
let tokenClaimTable: ModelAccessCaseTable;
let config: NormalizedKongConfig;

beforeAll(async () => {
  table = await modelAccessCases(DEFAULT_POLICY, DEFAULT_SECRETS);
  tokenClaimTable = await modelAccessCases(TOKEN_CLAIM_POLICY, DEFAULT_SECRETS);
  config = defaultKongConfig();
});

function runCase(table: ModelAccessCaseTable, testCase: ModelAccessCase) {
  const plugin = modelAccessPlugin(new ManualClock(table.now * 1000));
  const consumer = testCase.consumer
    ? { id: `id-${testCase.consumer}`, username: testCase.consumer, custom_id: null, tags: null }
    : null;
  const context = requestContext(
    config,
    {
      method: testCase.request.method,
      path: testCase.request.path,
      headers: testCase.request.headers,
      body: Buffer.from(testCase.request.body, 'base64'),
      httpVersion: testCase.request.protocol === 'grpc' ? 2 : 1,
      protocol: testCase.request.protocol,
    },
    { consumer, token: testCase.token },
  );
  const exit = plugin.access(context, { ...table.config, ...testCase.config }, config.plugins[0] as never) as
    | KongExit
    | undefined;
  const audit = context.serializeValues.size
    ? {
        model: context.serializeValues.get('model'),
        modelVersion: context.serializeValues.get('model_version'),
      }
    : null;
  return { exit, audit };
}

describe('modelgate-model-access in the emulator', () => {
  it('has the whole table to run', () => {
    expect(table.cases.length).toBeGreaterThanOrEqual(175);
  });

  it.each([
    ['grants', () => table],
    ['token-claim', () => tokenClaimTable],
  ])('passes every case of the shared table with %s authorization', (_mode, tableOf) => {
    const failures: string[] = [];
    const current = tableOf();
    for (const testCase of current.cases) {
      const { exit, audit } = runCase(current, testCase);
      const expected = testCase.expect;
      const actual = exit
        ? {
            allowed: false,
            status: exit.status,
            message: exit.kind === 'error' ? exit.message : exit.table.message,
            audit,
            ...(testCase.request.protocol === 'grpc'
              ? { grpcStatus: kongGrpcStatus(exit.status), grpcMessage: grpcMessageOf(exit) }
              : {}),
          }
        : { allowed: true, audit };
      try {
        expect(actual).toEqual(expected);
      } catch {
        failures.push(
          `${testCase.name}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`,
        );
      }
    }
    expect(failures).toEqual([]);
  });
});
