import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server as GrpcServer, ServerCredentials } from '@grpc/grpc-js';
import {
  type BatchingParameters,
  BatchingParametersSchema,
  MAX_MESSAGE_BYTES,
  type ModelServerConfig,
  ModelServerConfigSchema,
  type MonitoringConfig,
  MonitoringConfigSchema,
} from '@modelgate/proto';
import { loadTfjs } from './backend/tfjs-backend.js';
import { Batcher, batchingOptionsFrom } from './batcher.js';
import { addTfServingServices } from './grpc-service.js';
import { DEFAULT_PROMETHEUS_PATH, ServingMetrics } from './metrics.js';
import { type ModelConfigEntry, modelConfigEntries, singleModelConfig } from './model-config.js';
import type { ModelRunner } from './model-runner.js';
import { createModelRunner } from './model-runner-factory.js';
import { Predictor } from './predict.js';
import { RestApi } from './rest-api.js';
import { ServableManager } from './servable-manager.js';
import { type LogSink, ServerLog } from './server-log.js';
import { DEFAULT_SERVER_OPTIONS, type ServerOptions } from './server-options.js';
import { readTextProtoFile } from './text-proto-file.js';
import { TfServingError } from './tf-serving-error.js';

/** How to start the emulator from code: the real flags (camelCased), plus what the CLI cannot pass. */
export interface TfServingEmulatorOptions extends Partial<ServerOptions> {
  /** The model config as a message, instead of --model_config_file or --model_name/--model_base_path. */
  modelConfig?: ModelServerConfig;
  /** The monitoring config as a message, instead of --monitoring_config_file. */
  monitoringConfig?: MonitoringConfig;
  /** Batching parameters as a message, instead of --batching_parameters_file (needs enableBatching). */
  batchingParameters?: BatchingParameters;
  /** The engine that runs the models; default: tfjs on its wasm backend. */
  runner?: ModelRunner;
  /** Log lines in TensorFlow's format; default: stderr. */
  log?: LogSink;
  /** Address both servers bind; default 0.0.0.0, as TF Serving's gRPC server binds. */
  host?: string;
}

/** A running emulator's endpoints. */
export interface StartedTfServing {
  grpcPort: number;
  /** Undefined when REST is off (no --rest_api_port). */
  restPort: number | undefined;
}

const SERVER = 'tensorflow_serving/model_servers/server.cc';
const STOP_GRACE_MS = 10_000;

const stderrSink: LogSink = (line) => process.stderr.write(`${line}\n`);

/**
 * TensorFlow Serving as a local server: loads the configured SavedModels, then serves gRPC
 * (PredictionService, ModelService) and, when --rest_api_port is set, the REST API and the Prometheus page,
 * logging the real server's lines. `start()` resolves with the ports once both listen (0 picks a free one);
 * `stop()` refuses new work, lets in-flight requests finish and unloads the models.
 */
export class TfServingEmulator {
  private readonly options: ServerOptions;
  private readonly log: ServerLog;
  private grpc: GrpcServer | undefined;
  private http: HttpServer | undefined;
  private batcher: Batcher | undefined;
  private manager: ServableManager | undefined;
  private state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  private starting: Promise<StartedTfServing> | undefined;

  constructor(private readonly init: TfServingEmulatorOptions = {}) {
    this.options = { ...DEFAULT_SERVER_OPTIONS, ...definedOnly(init) };
    this.log = new ServerLog(init.log ?? stderrSink);
  }

  async start(): Promise<StartedTfServing> {
    if (this.state !== 'new') {
      throw TfServingError.failedPrecondition(`TfServingEmulator.start() called when ${this.state}`);
    }
    this.state = 'starting';
    this.starting = this.startServers();
    try {
      return await this.starting;
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  private async startServers(): Promise<StartedTfServing> {
    const options = this.options;
    const models = await this.modelEntries();
    const batcher = await this.createBatcher();
    const runner = this.init.runner ?? (await createModelRunner({ loadTfjs }));
    const manager = new ServableManager({ runner, tags: options.savedModelTags.split(','), log: this.log });
    this.manager = manager;
    await manager.loadAll(models);
    const metrics = new ServingMetrics();
    const predictor = new Predictor({
      manager,
      metrics,
      enableSignatureMethodNameCheck: options.enableSignatureMethodNameCheck,
      ...(batcher ? { batcher } : {}),
    });
    const grpcPort = await this.startGrpc(manager, predictor, metrics);
    let restPort: number | undefined;
    if (options.restApiPort !== undefined) {
      if (options.restApiPort !== 0 && options.restApiPort === options.port) {
        this.log.error(
          `${SERVER}:456`,
          'server_options.http_port cannot be same as grpc_port. Please use a different port for HTTP/REST API. Skipped exporting HTTP/REST API.',
        );
      } else {
        restPort = await this.startRest(manager, predictor, metrics, options.restApiPort);
      }
    }
    this.state = 'running';
    return { grpcPort, restPort };
  }

  /** The models to serve, from the code-level config, --model_config_file, or --model_name/--model_base_path. */
  private async modelEntries(): Promise<ModelConfigEntry[]> {
    const { modelBasePath, modelConfigFile, modelName } = this.options;
    let config = this.init.modelConfig;
    if (!config) {
      if (modelBasePath === '' && modelConfigFile === '') {
        throw TfServingError.invalidArgument(
          'Both server_options.model_base_path and server_options.model_config_file are empty!',
        );
      }
      config =
        modelConfigFile === ''
          ? singleModelConfig(modelName, modelBasePath, this.log)
          : await readTextProtoFile(ModelServerConfigSchema, modelConfigFile, (m) =>
              this.log.error('text_format.cc', m),
            );
    }
    return modelConfigEntries(config, this.options, this.log);
  }

  private async createBatcher(): Promise<Batcher | undefined> {
    const { enableBatching, batchingParametersFile } = this.options;
    if (!enableBatching) {
      if (batchingParametersFile !== '' || this.init.batchingParameters) {
        throw TfServingError.invalidArgument(
          'server_options.batching_parameters_file is set without setting server_options.enable_batching to true.',
        );
      }
      return undefined;
    }
    const parameters =
      this.init.batchingParameters ??
      (batchingParametersFile === ''
        ? undefined
        : await readTextProtoFile(BatchingParametersSchema, batchingParametersFile, (m) =>
            this.log.error('text_format.cc', m),
          ));
    const options = batchingOptionsFrom(parameters, (message) => this.log.warn(`${SERVER}:197`, message));
    this.batcher = new Batcher(options);
    return this.batcher;
  }

  private async startGrpc(
    manager: ServableManager,
    predictor: Predictor,
    metrics: ServingMetrics,
  ): Promise<number> {
    const { port } = this.options;
    const server = new GrpcServer({
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    });
    addTfServingServices(server, {
      manager,
      predictor,
      metrics,
      tensorContent: this.options.enableSerializationAsTensorContent,
    });
    this.grpc = server;
    this.log.info(`${SERVER}:124`, 'Using InsecureServerCredentials');
    const host = this.init.host ?? '0.0.0.0';
    const bound = await new Promise<number>((resolve, reject) => {
      server.bindAsync(`${host}:${port}`, ServerCredentials.createInsecure(), (error, boundPort) =>
        error
          ? reject(TfServingError.invalidArgument('Failed to BuildAndStart gRPC server'))
          : resolve(boundPort),
      );
    });
    this.log.info(`${SERVER}:430`, `Running gRPC ModelServer at 0.0.0.0:${bound} ...`);
    return bound;
  }

  private async startRest(
    manager: ServableManager,
    predictor: Predictor,
    metrics: ServingMetrics,
    port: number,
  ): Promise<number | undefined> {
    let monitoring = this.init.monitoringConfig;
    const { monitoringConfigFile } = this.options;
    if (!monitoring && monitoringConfigFile !== '') {
      monitoring = await readTextProtoFile(MonitoringConfigSchema, monitoringConfigFile, (m) =>
        this.log.error('text_format.cc', m),
      );
    }
    const prometheus = monitoring?.prometheusConfig;
    const api = new RestApi({
      manager,
      predictor,
      metrics,
      metricsPath: prometheus?.enable ? prometheus.path || DEFAULT_PROMETHEUS_PATH : undefined,
      cors: this.options.restApiEnableCorsSupport,
    });
    const server = createServer(api.listener);
    const host = this.init.host ?? '0.0.0.0';
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => resolve());
      });
    } catch {
      this.log.error(`${SERVER}:453`, `Failed to start HTTP Server at localhost:${port}`);
      return undefined;
    }
    this.http = server;
    const bound = (server.address() as AddressInfo).port;
    this.log.info(`${SERVER}:451`, `Exporting HTTP/REST API at:localhost:${bound} ...`);
    this.log.raw('[evhttp_server.cc : 245] NET_LOG: Entering the event loop ...');
    return bound;
  }

  /** Stops taking requests, finishes the ones in flight, runs what is queued, unloads the models. */
  async stop(): Promise<void> {
    // A stop during start-up (SIGTERM while models load) waits for the start to settle; start() reports its error.
    if (this.state === 'starting') await this.starting?.catch(() => undefined);
    if (this.state === 'stopping' || this.state === 'stopped') return;
    this.state = 'stopping';
    await Promise.all([this.stopGrpc(), this.stopHttp()]);
    await this.batcher?.close();
    this.manager?.unloadAll();
    this.state = 'stopped';
  }

  private async stopGrpc(): Promise<void> {
    const server = this.grpc;
    if (!server) return;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, STOP_GRACE_MS);
      server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
  }

  private async stopHttp(): Promise<void> {
    const server = this.http;
    if (!server) return;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        server.closeAllConnections();
      }, STOP_GRACE_MS);
      server.close(() => {
        clearTimeout(force);
        resolve();
      });
      server.closeIdleConnections();
    });
  }
}

/** The options that are set, so that `{ port: undefined }` keeps the default. */
function definedOnly(options: TfServingEmulatorOptions): Partial<ServerOptions> {
  const known = Object.keys(DEFAULT_SERVER_OPTIONS) as (keyof ServerOptions)[];
  return Object.fromEntries(
    known.filter((key) => options[key] !== undefined).map((key) => [key, options[key]]),
  ) as Partial<ServerOptions>;
}
