export {
  type ContainerDefinitions,
  type ContainerImages,
  type ContainerStackOptions,
  containerImages,
  defineContainers,
  imagesFromEnv,
  NETWORK_ALIASES,
  startContainerStack,
  writeContainerStackFiles,
} from './containers/container-stack.js';
export {
  KEYCLOAK_IMAGE,
  KeycloakContainer,
  StartedKeycloakContainer,
} from './containers/keycloak-container.js';
export { KONG_IMAGE, KongContainer, StartedKongContainer } from './containers/kong-container.js';
export {
  NVIDIA_DEVICE_REQUEST,
  StartedTfServingContainer,
  TF_SERVING_GPU_IMAGE,
  TF_SERVING_IMAGE,
  TfServingContainer,
} from './containers/tf-serving-container.js';
export {
  type EmulatorStackOptions,
  type ServiceName,
  STACK_KEYCLOAK_ADMIN,
  startEmulatorStack,
} from './emulators/emulator-stack.js';
export {
  decideGpu,
  type GpuDecision,
  type GpuInfo,
  type GpuMode,
  GpuUnavailableError,
  listNvidiaGpus,
  parseNvidiaSmiList,
} from './gpu/gpu-detection.js';
export { freePort } from './process/free-port.js';
export { ManagedProcess, ProcessExitedError } from './process/managed-process.js';
export { httpCheck, ReadinessTimeoutError, waitUntilReady } from './process/readiness.js';
export {
  chooseProvider,
  type EngineEndpoint,
  engineAnswers,
  engineEndpoint,
  engineHasNvidiaRuntime,
  type ProviderChoice,
  type ProviderName,
} from './provider-selection.js';
export { remoteStack } from './remote-stack.js';
export type { RunningStack, StackProgress } from './running-stack.js';
export {
  clientSecretOf,
  parseStackDescription,
  readStackDescription,
  STACK_DESCRIPTION_JSON_SCHEMA_FILE,
  STACK_DESCRIPTION_SCHEMA,
  STACK_VERSION,
  type StackClient,
  type StackDescription,
  StackDescriptionError,
  type StackDescriptionInput,
  type StackModel,
  stackDescriptionJsonSchema,
  writeStackDescription,
} from './stack-description.js';
export { type StackFiles, writeStackFiles } from './stack-files.js';
export { StackStartError } from './stack-start-error.js';
export { type ClientCredentials, isUnauthorized, TokenPool, type TokenPoolOptions } from './token-pool.js';
export { TokenRequestError } from './token-request-error.js';
