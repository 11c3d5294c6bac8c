// @modelgate/loadgen: the load engine, its scenarios and reports, for scripts that drive it from code.

export {
  DEFAULT_GENERATOR_LIMITS,
  type GeneratorHealth,
  type GeneratorLimits,
  generatorLimitReasons,
} from './engine/generator-monitor.js';
export {
  createLatencyHistogram,
  decodeHistogram,
  encodeHistogram,
  type LatencyHistogram,
  type LatencySummaryMs,
  mergeHistograms,
  summarize,
} from './engine/latency-histogram.js';
export { type LoadModel, runLoad } from './engine/load-engine.js';
export { type Measurement, type MeasurementPlan, measure } from './engine/measurement.js';
export { failure, OK, type RequestOutcome, type SendRequest } from './engine/request-outcome.js';
export { type RecorderSnapshot, RunRecorder } from './engine/run-recorder.js';
export { assessStability, DEFAULT_STABILITY } from './engine/stability.js';
export { startTestServer, type TestServer } from './engine/test-servers.js';
export {
  LOAD_REPORT_SCHEMA,
  type LoadReport,
  type PointResult,
  parseLoadReport,
  REPORT_SCHEMA_VERSION,
  ReportError,
  reportJsonSchema,
} from './report/load-report.js';
export { checkThresholds, parseThreshold, type Threshold } from './report/thresholds.js';
export { writeReports } from './report/write-reports.js';
export { AUTH_OVERHEAD_ARMS, runAuthOverhead } from './scenarios/auth-overhead.js';
export { DEFAULT_LOAD_SETTINGS, type LoadSettings } from './scenarios/load-settings.js';
export { runThroughputSweep, searchRate } from './scenarios/throughput.js';
export {
  type ArrivalSchedule,
  arrivalClock,
  parseTrace,
  ScheduleError,
} from './schedule/arrival-schedule.js';
export {
  bareTarget,
  type LoadTarget,
  stackFileTarget,
  stackTarget,
  TargetError,
} from './target/load-target.js';
export { predictPayload } from './target/predict-payload.js';
export { parseGpuQueryCsv } from './telemetry/nvidia-smi.js';
export { parsePrometheusText } from './telemetry/prometheus-scrape.js';
export { type TokenChoice, TokenSource } from './tokens/token-supply.js';
export { senderFor } from './transport/sender.js';
export type { TransportSpec } from './transport/transport-spec.js';
