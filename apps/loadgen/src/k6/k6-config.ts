// What a k6 script is told, through `k6 run -e NAME=VALUE` (the `modelgate-loadgen k6` command sets them all):
// the arms as JSON (where each sends, over which protocol, with which tokens) and the schedule. Scenarios are
// data: the same arms, rate and blocks the Node engine runs become k6 constant-arrival-rate scenarios.

export interface K6Arm {
  arm: string;
  protocol: 'http' | 'grpc';
  /** http: the full :predict URL; grpc: host:port. */
  target: string;
  tokens: string[];
  badTokens: string[];
  badShare: number;
}

export interface K6Config {
  scenario: 'auth-overhead' | 'throughput';
  arms: K6Arm[];
  /** Requests per second per arm. */
  rate: number;
  blocks: number;
  /** Seconds per arm per block. */
  blockSeconds: number;
  batchSize: number;
  /** Files written by the command: the REST body and the PredictRequest as protobuf JSON. */
  restBodyFile: string;
  grpcRequestFile: string;
  /** The .proto import root and the service file, for k6's grpc client. */
  protoRoot: string;
  summaryFile: string;
  /** `p99<50` and the like, applied to every arm (k6 threshold syntax on our latency metric). */
  thresholds: string[];
}

export class K6ConfigError extends Error {
  override readonly name = 'K6ConfigError';
}

export function readK6Config(env: Record<string, string | undefined>): K6Config {
  const raw = env.MODELGATE_K6_CONFIG;
  if (!raw) {
    throw new K6ConfigError(
      'MODELGATE_K6_CONFIG is not set: run this script through `modelgate-loadgen k6 <scenario>`, or pass -e MODELGATE_K6_CONFIG=<json>',
    );
  }
  const config = JSON.parse(raw) as K6Config;
  if (!Array.isArray(config.arms) || config.arms.length === 0) {
    throw new K6ConfigError('MODELGATE_K6_CONFIG: arms must name at least one arm');
  }
  return config;
}

export { carriesBadToken } from '../tokens/bad-token-share.js';

/** k6 scenarios: each block runs every arm once, one after another, the order rotating by block. */
export function k6Scenarios(config: K6Config): Record<string, object> {
  const scenarios: Record<string, object> = {};
  const gapSeconds = 1;
  let slot = 0;
  for (let block = 0; block < config.blocks; block++) {
    for (let i = 0; i < config.arms.length; i++) {
      const arm = config.arms[(i + block) % config.arms.length] as K6Arm;
      scenarios[`b${block}_${arm.arm.replace(/[^A-Za-z0-9_]/g, '_')}`] = {
        executor: 'constant-arrival-rate',
        rate: config.rate,
        timeUnit: '1s',
        duration: `${config.blockSeconds}s`,
        preAllocatedVUs: Math.max(4, Math.ceil(config.rate / 10)),
        maxVUs: Math.max(16, config.rate),
        startTime: `${slot * (config.blockSeconds + gapSeconds)}s`,
        exec: 'predict',
        env: { MODELGATE_ARM: arm.arm },
        tags: { arm: arm.arm },
      };
      slot++;
    }
  }
  return scenarios;
}

/** Thresholds on our per-arm latency metric; one per arm at least, so that k6 keeps each arm's submetric. */
export function k6Thresholds(config: K6Config): Record<string, string[]> {
  const thresholds: Record<string, string[]> = {};
  for (const arm of config.arms) {
    thresholds[`modelgate_latency{arm:${arm.arm}}`] = ['max>=0', ...config.thresholds];
    thresholds[`modelgate_requests{arm:${arm.arm}}`] = ['count>=0'];
    thresholds[`modelgate_errors{arm:${arm.arm}}`] = ['count>=0'];
    thresholds[`modelgate_expected_refusals{arm:${arm.arm}}`] = ['count>=0'];
  }
  return thresholds;
}

export const SUMMARY_TREND_STATS = [
  'avg',
  'min',
  'med',
  'max',
  'p(50)',
  'p(90)',
  'p(99)',
  'p(99.9)',
  'p(99.99)',
];
