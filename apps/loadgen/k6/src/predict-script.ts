import { check } from 'k6';
import http from 'k6/http';
import { Counter, Trend } from 'k6/metrics';
import grpc from 'k6/net/grpc';
import {
  carriesBadToken,
  type K6Arm,
  k6Scenarios,
  k6Thresholds,
  readK6Config,
  SUMMARY_TREND_STATS,
} from '../../src/k6/k6-config.js';
import { type K6SummaryData, k6Report } from './k6-summary.js';

// The k6 script for both scenarios (the config says which arms and schedule): each iteration sends one
// Predict to its scenario's arm, over HTTP or gRPC, with a token from the pool minted before the run (and a
// share of bad ones whose 401 / UNAUTHENTICATED is expected). handleSummary writes our report schema.

const config = readK6Config(__ENV);
const restBody = open(config.restBodyFile);
const grpcRequest = JSON.parse(open(config.grpcRequestFile)) as object;
const grpcClient = new grpc.Client();
if (config.arms.some((arm) => arm.protocol === 'grpc')) {
  grpcClient.load([config.protoRoot], 'tensorflow_serving/apis/prediction_service.proto');
}
const startedAt = new Date().toISOString();

const latency = new Trend('modelgate_latency', true);
const requests = new Counter('modelgate_requests');
const errors = new Counter('modelgate_errors');
const expectedRefusals = new Counter('modelgate_expected_refusals');

export const options = {
  scenarios: k6Scenarios(config),
  thresholds: k6Thresholds(config),
  summaryTrendStats: SUMMARY_TREND_STATS,
};

let sent = 0;
let connectedTo: string | null = null;

function tokenFor(arm: K6Arm, index: number): { token: string | null; bad: boolean } {
  if (arm.tokens.length === 0) return { token: null, bad: false };
  if (arm.badTokens.length > 0 && carriesBadToken(index, arm.badShare)) {
    return { token: arm.badTokens[index % arm.badTokens.length] as string, bad: true };
  }
  return { token: arm.tokens[index % arm.tokens.length] as string, bad: false };
}

function record(arm: string, ms: number, ok: boolean, refusedAsExpected: boolean): void {
  const tags = { arm };
  requests.add(1, tags);
  if (refusedAsExpected) expectedRefusals.add(1, tags);
  else if (!ok) errors.add(1, tags);
  else latency.add(ms, tags);
}

export function predict(): void {
  const arm = config.arms.find((candidate) => candidate.arm === __ENV.MODELGATE_ARM) as K6Arm;
  const { token, bad } = tokenFor(arm, sent++);
  if (arm.protocol === 'http') {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    const response = http.post(arm.target, restBody, { headers, tags: { arm: arm.arm } });
    const ok = response.status === 200;
    check(response, {
      [bad ? 'bad token refused with 401' : 'predict answered 200']: (r) => r.status === (bad ? 401 : 200),
    });
    record(arm.arm, response.timings.duration, ok && !bad, bad && response.status === 401);
    return;
  }
  if (connectedTo !== arm.target) {
    if (connectedTo !== null) grpcClient.close();
    grpcClient.connect(arm.target, { plaintext: true });
    connectedTo = arm.target;
  }
  const started = Date.now();
  const response = grpcClient.invoke('tensorflow.serving.PredictionService/Predict', grpcRequest, {
    metadata: token ? { authorization: `Bearer ${token}` } : {},
  });
  const ms = Date.now() - started;
  const ok = response.status === grpc.StatusOK;
  const refused = response.status === grpc.StatusUnauthenticated;
  check(response, {
    [bad ? 'bad token refused with UNAUTHENTICATED' : 'predict answered OK']: () => (bad ? refused : ok),
  });
  record(arm.arm, ms, ok && !bad, bad && refused);
}

export function handleSummary(data: K6SummaryData): Record<string, string> {
  const report = k6Report(data, config, startedAt, new Date().toISOString());
  return { [config.summaryFile]: `${JSON.stringify(report, null, 2)}\n` };
}
