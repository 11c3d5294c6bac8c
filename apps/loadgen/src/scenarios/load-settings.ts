import type { LoadModel } from '../engine/load-engine.js';
import type { MeasurementPlan } from '../engine/measurement.js';
import type { PointResult } from '../report/load-report.js';
import type { GrpcTensorForm, PredictPayload, RestBodyFormat } from '../target/predict-payload.js';
import type { TokenChoice } from '../tokens/token-supply.js';
import type { TransportSpec } from '../transport/transport-spec.js';

// The settings every scenario shares, with their defaults in one place.

export interface LoadSettings {
  transport: 'grpc' | 'rest';
  model: string;
  tensorForm: GrpcTensorForm;
  /** The gRPC path: node:http2 with frames built once, or grpc-js's generic client. */
  grpcClient: 'http2' | 'grpc-js';
  restFormat: RestBodyFormat;
  /** gRPC channels or HTTP connections per worker. */
  connections: number;
  workers: number;
  warmupMs: number;
  windowMs: number;
  lateThresholdMs: number;
  timeoutMs: number;
}

export const DEFAULT_LOAD_SETTINGS: LoadSettings = {
  transport: 'grpc',
  model: 'half_plus_two',
  tensorForm: 'content',
  grpcClient: 'http2',
  restFormat: 'columnar',
  connections: 4,
  workers: 1,
  warmupMs: 500,
  windowMs: 1000,
  lateThresholdMs: 2,
  timeoutMs: 10_000,
};

export function transportSpec(
  settings: LoadSettings,
  endpoint: { grpc: string | null; rest: string | null },
  payload: PredictPayload,
  tokens: TokenChoice | null,
): TransportSpec {
  if (settings.transport === 'grpc') {
    if (!endpoint.grpc) throw new Error('this target has no gRPC address: use --transport rest');
    return {
      kind: 'grpc',
      address: endpoint.grpc,
      body: payload.grpc,
      channels: settings.connections,
      client: settings.grpcClient,
      timeoutMs: settings.timeoutMs,
      tokens,
    };
  }
  if (!endpoint.rest) throw new Error('this target has no REST address: use --transport grpc');
  return {
    kind: 'rest',
    url: new URL(payload.restPath, endpoint.rest).href,
    body: payload.rest,
    connections: settings.connections,
    timeoutMs: settings.timeoutMs,
    tokens,
  };
}

export function measurementPlan(
  settings: LoadSettings,
  model: LoadModel,
  transport: TransportSpec,
  durationMs: number,
): MeasurementPlan {
  return {
    model,
    transport,
    warmupMs: settings.warmupMs,
    durationMs,
    windowMs: settings.windowMs,
    lateThresholdMs: settings.lateThresholdMs,
    workers: settings.workers,
  };
}

export function loadOf(model: LoadModel): PointResult['load'] {
  if (model.kind === 'closed') return { kind: 'closed', concurrency: model.concurrency };
  const { schedule } = model;
  const rate = schedule.kind === 'constant' || schedule.kind === 'poisson' ? schedule.rate : null;
  return { kind: 'open', schedule: schedule.kind, rate };
}
