import { PRODUCT_VERSIONS, TF_SERVING_METRICS_PATH } from '@modelgate/policy';
import { AbstractStartedContainer, GenericContainer, type StartedTestContainer, Wait } from 'testcontainers';

// TensorFlow Serving 2.21.0 (tensorflow/serving, or its -gpu image with an NVIDIA device request), in the shape
// of testcontainers-node's modules: the models copied in with their version folders under /models, a model
// config file and the monitoring config, gRPC 8500 and REST 8501 (the image's entrypoint passes both and
// appends our flags), ready when every model reports an AVAILABLE version.

export const TF_SERVING_IMAGE = `tensorflow/serving:${PRODUCT_VERSIONS.tensorflowServing}`;
export const TF_SERVING_GPU_IMAGE = `tensorflow/serving:${PRODUCT_VERSIONS.tensorflowServing}-gpu`;
export const TF_SERVING_GRPC_PORT = 8500;
export const TF_SERVING_REST_PORT = 8501;
export const TF_SERVING_MODELS_DIR = '/models';
export const TF_SERVING_MODEL_CONFIG_PATH = '/models/models.config';
export const TF_SERVING_MONITORING_CONFIG_PATH = '/models/monitoring.config';
export const TF_SERVING_STARTUP_TIMEOUT_MS = 120_000;

/** The device request `docker run --gpus all` makes: every NVIDIA GPU, with the gpu capability. */
export const NVIDIA_DEVICE_REQUEST = {
  Driver: 'nvidia',
  Count: -1,
  DeviceIDs: [],
  Capabilities: [['gpu']],
  Options: {},
};

export class TfServingContainer extends GenericContainer {
  private readonly models: string[] = [];
  private readonly flags: string[] = [];

  constructor(image = TF_SERVING_IMAGE) {
    super(image);
    this.withExposedPorts(TF_SERVING_GRPC_PORT, TF_SERVING_REST_PORT).withStartupTimeout(
      TF_SERVING_STARTUP_TIMEOUT_MS,
    );
  }

  /** A model's base path on this machine (numeric version folders of SavedModels), served as `name`. */
  withModel(name: string, basePath: string): this {
    this.models.push(name);
    this.withReadiness();
    return this.withCopyDirectoriesToContainer([
      { source: basePath, target: `${TF_SERVING_MODELS_DIR}/${name}` },
    ]);
  }

  /** Ready when every model added so far reports an AVAILABLE version over REST. */
  private withReadiness(): void {
    this.withWaitStrategy(
      Wait.forAll(
        this.models.map((model) =>
          Wait.forHttp(`/v1/models/${model}`, TF_SERVING_REST_PORT).forResponsePredicate((body) =>
            body.includes('"AVAILABLE"'),
          ),
        ),
      ),
    );
  }

  /**
   * Binds gRPC and REST to these host ports rather than random ones: they then stay the same when the container
   * is stopped and started again (the contract suite's fault cases), so the stack description stays true.
   */
  withHostPorts(grpcPort: number, restPort: number): this {
    // withExposedPorts appends, and its port bindings replace the random ones by container port
    this.exposedPorts = [];
    return this.withExposedPorts(
      { container: TF_SERVING_GRPC_PORT, host: grpcPort },
      { container: TF_SERVING_REST_PORT, host: restPort },
    );
  }

  /** The model config file (text ModelServerConfig naming /models/<name> base paths). */
  withModelConfig(text: string): this {
    this.flags.push(`--model_config_file=${TF_SERVING_MODEL_CONFIG_PATH}`);
    this.withCommand([...this.flags]);
    return this.withCopyContentToContainer([
      { content: text, target: TF_SERVING_MODEL_CONFIG_PATH, mode: 0o644 },
    ]);
  }

  /** The monitoring config file: Prometheus metrics on the REST port. */
  withMonitoringConfig(text: string): this {
    this.flags.push(`--monitoring_config_file=${TF_SERVING_MONITORING_CONFIG_PATH}`);
    this.withCommand([...this.flags]);
    return this.withCopyContentToContainer([
      { content: text, target: TF_SERVING_MONITORING_CONFIG_PATH, mode: 0o644 },
    ]);
  }

  /**
   * Every NVIDIA GPU, as `--gpus all` asks for it. TF32 is turned off (NVIDIA_TF32_OVERRIDE=0): with it,
   * Conv2D and MatMul outputs move 7-16x past the golden tolerance (measured on an H100).
   */
  withGpu(): this {
    this.hostConfig.DeviceRequests = [NVIDIA_DEVICE_REQUEST];
    return this.withEnvironment({ NVIDIA_TF32_OVERRIDE: '0' });
  }

  override async start(): Promise<StartedTfServingContainer> {
    return new StartedTfServingContainer(await super.start());
  }
}

export class StartedTfServingContainer extends AbstractStartedContainer {
  constructor(startedTestContainer: StartedTestContainer) {
    super(startedTestContainer);
  }

  getGrpcAddress(): string {
    return `${this.getHost()}:${this.getMappedPort(TF_SERVING_GRPC_PORT)}`;
  }

  getRestUrl(): string {
    return `http://${this.getHost()}:${this.getMappedPort(TF_SERVING_REST_PORT)}`;
  }

  getMetricsUrl(): string {
    return `${this.getRestUrl()}${TF_SERVING_METRICS_PATH}`;
  }
}
