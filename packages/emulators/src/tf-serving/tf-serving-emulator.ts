import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { equals } from '@bufbuild/protobuf';
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
import { Inference } from './inference.js';
import { DEFAULT_PROMETHEUS_PATH, ServingMetrics } from './metrics.js';
import { modelConfigEntries, singleModelConfig } from './model-config.js';
import type { ModelRunner } from './model-runner.js';
import { createModelRunner } from './model-runner-factory.js';
import { Predictor } from './predict.js';
import { RestApi } from './rest-api.js';
import { ServableManager } from './servable-manager.js';
import { type LogSink, ServerLog } from './server-log.js';
import { DEFAULT_SERVER_OPTIONS, type ServerOptions } from './server-options.js';
import { readTextProtoFile } from './text-proto-file.js';
import { asTfServingError, TfServingError } from './tf-serving-error.js';

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
  /** Bind gRPC on a free port instead of `port` (the flag cannot ask for this: --port=0 is refused). */
  pickFreeGrpcPort?: boolean;
  /** Serve REST on a free port instead of `restApiPort` (the flag's 0 means REST off). */
  pickFreeRestPort?: boolean;
}

/** A running emulator's endpoints. */
export interface StartedTfServing {
  grpcPort: number;
  /** Undefined when REST is off (--rest_api_port 0, the default). */
  restPort: number | undefined;
}

const SERVER = 'tensorflow_serving/model_servers/server.cc';
const SERVER_CORE = 'tensorflow_serving/model_servers/server_core.cc';
const STOP_GRACE_MS = 10_000;

const stderrSink: LogSink = (line) => process.stderr.write(`${line}\n`);

/**
 * TensorFlow Serving as a local server: loads the configured SavedModels, then serves gRPC
 * (PredictionService, ModelService) and, when --rest_api_port is set, the REST API and the Prometheus page,
 * logging the real server's lines. `start()` resolves with the ports once both listen (pickFreeGrpcPort/pickFreeRestPort pick free ones);
 * `stop()` refuses new work, lets in-flight requests finish and unloads the models.
 */
export class TfServingEmulator {
  private readonly options: ServerOptions;
  private readonly log: ServerLog;
  private grpc: GrpcServer | undefined;
  private http: HttpServer | undefined;
  private batcher: Batcher | undefined;
  private manager: ServableManager | undefined;
  private configPoll: NodeJS.Timeout | undefined;
  /** The config ServerCore holds: what reloads are compared with. */
  private currentConfig: ModelServerConfig | undefined;
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
    if (options.port === 0 && !this.init.pickFreeGrpcPort) {
      throw TfServingError.invalidArgument(
        'At least one of server_options.grpc_port or server_options.grpc_socket_path must be set.',
      );
    }
    const config = await this.modelServerConfig();
    const models = modelConfigEntries(config, this.options, this.log);
    const batcher = await this.createBatcher();
    const runner = this.init.runner ?? (await createModelRunner({ loadTfjs }));
    const manager = new ServableManager({
      runner,
      tags: options.savedModelTags.split(','),
      log: this.log,
      fileSystemPollWaitSeconds: options.fileSystemPollWaitSeconds,
    });
    this.manager = manager;
    // Like ServerCore::Create, start-up waits here until every model has a version AVAILABLE: a missing base
    // path or an empty one is polled for, and the ports open (the ready lines print) only after.
    await manager.applyConfig(models);
    this.currentConfig = config;
    this.startConfigPolling();
    const metrics = new ServingMetrics();
    const predictor = new Predictor({
      manager,
      metrics,
      enableSignatureMethodNameCheck: options.enableSignatureMethodNameCheck,
      ...(batcher ? { batcher } : {}),
    });
    const inference = new Inference({
      manager,
      metrics,
      enableSignatureMethodNameCheck: options.enableSignatureMethodNameCheck,
    });
    const grpcPort = await this.startGrpc(manager, predictor, inference, metrics);
    let restPort: number | undefined;
    if (options.restApiPort !== 0 || this.init.pickFreeRestPort) {
      if (!this.init.pickFreeRestPort && options.restApiPort === grpcPort) {
        this.log.error(
          `${SERVER}:456`,
          'server_options.http_port cannot be same as grpc_port. Please use a different port for HTTP/REST API. Skipped exporting HTTP/REST API.',
        );
      } else {
        const port = this.init.pickFreeRestPort ? 0 : options.restApiPort;
        restPort = await this.startRest(manager, predictor, inference, metrics, port);
      }
    }
    this.state = 'running';
    return { grpcPort, restPort };
  }

  /** The models to serve, from the code-level config, --model_config_file, or --model_name/--model_base_path. */
  private async modelServerConfig(): Promise<ModelServerConfig> {
    const { modelBasePath, modelConfigFile, modelName } = this.options;
    if (this.init.modelConfig) return this.init.modelConfig;
    if (modelBasePath === '' && modelConfigFile === '') {
      throw TfServingError.invalidArgument(
        'Both server_options.model_base_path and server_options.model_config_file are empty!',
      );
    }
    return modelConfigFile === ''
      ? singleModelConfig(modelName, modelBasePath, this.log)
      : await readTextProtoFile(ModelServerConfigSchema, modelConfigFile, (m) =>
          this.log.error('text_format.cc', m),
        );
  }

  /**
   * ServerCore::ReloadConfig: only a ModelConfigList may follow a ModelConfigList; an empty config changes
   * nothing; the new config is validated (labels may name versions AVAILABLE now), models no longer listed
   * unload, new ones load, and the call returns once they are AVAILABLE. Used by
   * --model_config_file_poll_wait_seconds and by ModelService/HandleReloadConfigRequest.
   */
  async reloadConfig(config: ModelServerConfig): Promise<void> {
    const manager = this.manager;
    if (!manager || this.state !== 'running')
      throw TfServingError.unavailable('The model server is not running');
    const current = this.currentConfig;
    const same = current !== undefined && equals(ModelServerConfigSchema, current, config);
    const listToList = current?.config.case === 'modelConfigList' && config.config.case === 'modelConfigList';
    if (current?.config.case !== undefined && !same && !listToList) {
      this.log.error(
        `${SERVER_CORE}:488`,
        'Cannot transition to requested config. It is only legal to transition from one ModelConfigList to another.',
      );
      throw TfServingError.failedPrecondition(
        'Cannot transition to requested config. It is only legal to transition from one ModelConfigList to another.',
      );
    }
    if (config.config.case === undefined) {
      this.log.info(`${SERVER_CORE}:500`, 'Taking no action for empty config.');
      return;
    }
    const models = modelConfigEntries(config, this.options, this.log, (name, version) =>
      manager.isAvailable(name, version),
    );
    this.currentConfig = config;
    await manager.applyConfig(models);
  }

  /** --model_config_file_poll_wait_seconds: re-reads the file and reloads it (Server::PollFilesystemAndReloadConfig). */
  private startConfigPolling(): void {
    const { modelConfigFile, modelConfigFilePollWaitSeconds: seconds } = this.options;
    if (seconds <= 0 || modelConfigFile === '' || this.init.modelConfig) return;
    let running = false;
    this.configPoll = setInterval(() => {
      if (running) return;
      running = true;
      void this.pollConfigFile(modelConfigFile).finally(() => {
        running = false;
      });
    }, seconds * 1000);
    this.configPoll.unref();
  }

  private async pollConfigFile(file: string): Promise<void> {
    let config: ModelServerConfig;
    try {
      config = await readTextProtoFile(ModelServerConfigSchema, file, () => {});
    } catch (error) {
      this.log.error(
        `${SERVER}:170`,
        `Failed to read ModelServerConfig file: ${asTfServingError(error).message}`,
      );
      return;
    }
    try {
      await this.reloadConfig(config);
    } catch (error) {
      if (this.state !== 'running') return;
      this.log.error(
        `${SERVER}:177`,
        `PollFilesystemAndReloadConfig failed to ReloadConfig: ${asTfServingError(error).message}`,
      );
    }
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
    inference: Inference,
    metrics: ServingMetrics,
  ): Promise<number> {
    const port = this.init.pickFreeGrpcPort ? 0 : this.options.port;
    const server = new GrpcServer({
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    });
    addTfServingServices(server, {
      manager,
      inference,
      reloadConfig: (config) => this.reloadConfig(config),
      log: this.log,
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
    inference: Inference,
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
      inference,
      metrics,
      metricsPath: prometheus?.enable ? prometheus.path || DEFAULT_PROMETHEUS_PATH : undefined,
      cors: this.options.restApiEnableCorsSupport,
      timeoutMs: this.options.restApiTimeoutInMs,
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
    // A start that waits for models (a missing base path) is released by stopping the manager.
    if (this.state === 'starting') {
      this.manager?.stop();
      await this.starting?.catch(() => undefined);
    }
    if (this.state === 'stopping' || this.state === 'stopped') return;
    this.state = 'stopping';
    clearInterval(this.configPoll);
    await Promise.all([this.stopGrpc(), this.stopHttp()]);
    await this.batcher?.close();
    this.manager?.stop();
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
