import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_POLICY, DEFAULT_SECRETS } from '@modelgate/policy';
import type { GenericContainer } from 'testcontainers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StackFiles } from '../stack-files.js';
import {
  type ContainerDefinitions,
  containerImages,
  defineContainers,
  imagesFromEnv,
  writeContainerStackFiles,
} from './container-stack.js';
import { NVIDIA_DEVICE_REQUEST, TF_SERVING_GPU_IMAGE } from './tf-serving-container.js';

// The containers as built objects, before any engine sees them: images, environment, files, ports, commands,
// wait strategies and the GPU device request, read from the GenericContainer fields Testcontainers creates the
// container from. The same definitions run for real on a Docker engine in CI (issue: the containers provider).

interface Built {
  imageName: { string: string };
  environment: Record<string, string>;
  exposedPorts: number[];
  startupTimeoutMs?: number;
  createOpts: { Cmd?: string[] };
  hostConfig: { DeviceRequests?: unknown[]; Tmpfs?: Record<string, string> };
  contentsToCopy: { content: string; target: string; mode?: number }[];
  directoriesToCopy: { source: string; target: string }[];
  waitStrategy: unknown;
}

const built = (container: GenericContainer) => container as unknown as Built;

let dir: string;
let files: StackFiles;
let cpu: ContainerDefinitions;
let gpu: ContainerDefinitions;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'modelgate-containers-test-'));
  files = await writeContainerStackFiles(DEFAULT_POLICY, DEFAULT_SECRETS, dir);
  cpu = await defineContainers(DEFAULT_POLICY, files, containerImages({}), false);
  gpu = await defineContainers(
    DEFAULT_POLICY,
    files,
    containerImages({ gpu: { enabled: true, name: 'H100' } }),
    true,
  );
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the Kong container', () => {
  it('is Kong 3.9.3 DB-less with the compiled config, the plugin, an http2 listener and admin/status reachable', async () => {
    const kong = built(cpu.kong);
    expect(kong.imageName.string).toBe('kong:3.9.3');
    expect(kong.environment).toMatchObject({
      KONG_DATABASE: 'off',
      KONG_DECLARATIVE_CONFIG: '/kong/declarative/kong.json',
      KONG_PROXY_LISTEN: '0.0.0.0:8000, 0.0.0.0:9080 http2',
      KONG_ADMIN_LISTEN: '0.0.0.0:8001',
      KONG_STATUS_LISTEN: '0.0.0.0:8007',
      KONG_PLUGINS: 'bundled,modelgate-model-access',
      KONG_LUA_PACKAGE_PATH: '/opt/modelgate/kong-plugins/?.lua;;',
    });
    expect(kong.exposedPorts).toEqual([8000, 9080, 8001, 8007]);
    const config = kong.contentsToCopy.find((entry) => entry.target === '/kong/declarative/kong.json');
    expect(config?.content).toBe(await readFile(files.kongConfigFile, 'utf8'));
    expect(JSON.parse(config?.content ?? '{}').services[0].host).toBe('tf-serving');
    expect(kong.directoriesToCopy).toEqual([
      expect.objectContaining({ source: files.pluginDir, target: '/opt/modelgate/kong-plugins' }),
    ]);
    expect(kong.hostConfig.Tmpfs).toEqual({ '/var/log/modelgate': 'rw,mode=1777' });
    expect(kong.waitStrategy).toMatchObject({ path: '/status/ready', port: 8007 });
  });
});

describe('the Keycloak container', () => {
  it('imports the compiled realm 0644, starts dev with health on, and waits on /health/ready on 9000', async () => {
    const keycloak = built(cpu.keycloak);
    expect(keycloak.imageName.string).toBe('quay.io/keycloak/keycloak:26.7.3');
    expect(keycloak.createOpts.Cmd).toEqual(['start-dev', '--import-realm', '--health-enabled=true']);
    expect(keycloak.environment).toMatchObject({
      KC_HEALTH_ENABLED: 'true',
      KC_BOOTSTRAP_ADMIN_USERNAME: 'admin',
      KC_BOOTSTRAP_ADMIN_PASSWORD: 'admin',
    });
    expect(keycloak.exposedPorts).toEqual([8080, 9000]);
    const realm = keycloak.contentsToCopy[0];
    expect({ target: realm?.target, mode: realm?.mode }).toEqual({
      target: '/opt/keycloak/data/import/modelgate.json',
      mode: 0o644,
    });
    expect(JSON.parse(realm?.content ?? '{}')).toMatchObject({
      realm: 'modelgate',
      attributes: { frontendUrl: 'http://localhost:8080' },
    });
    expect(keycloak.waitStrategy).toMatchObject({ path: '/health/ready', port: 9000 });
  });
});

describe('the TF Serving container', () => {
  it('serves every model from /models with the model and monitoring configs, ready when each is AVAILABLE', () => {
    const tf = built(cpu.tfServing);
    expect(tf.imageName.string).toBe('tensorflow/serving:2.21.0');
    expect(tf.exposedPorts).toEqual([8500, 8501]);
    expect(tf.createOpts.Cmd).toEqual([
      '--model_config_file=/models/models.config',
      '--monitoring_config_file=/models/monitoring.config',
    ]);
    expect(tf.directoriesToCopy.map((entry) => [entry.source, entry.target])).toEqual([
      [join(files.fixtureModelsDir, 'half_plus_two'), '/models/half_plus_two'],
      [join(files.fixtureModelsDir, 'classifier'), '/models/classifier'],
      [join(files.fixtureModelsDir, 'convnet'), '/models/convnet'],
    ]);
    const modelConfig = tf.contentsToCopy.find((entry) => entry.target === '/models/models.config');
    expect(modelConfig?.content).toContain('base_path: "/models/classifier"');
    const waits = (tf.waitStrategy as { waitStrategies: { path: string; port: number }[] }).waitStrategies;
    expect(waits.map((wait) => [wait.path, wait.port])).toEqual([
      ['/v1/models/half_plus_two', 8501],
      ['/v1/models/classifier', 8501],
      ['/v1/models/convnet', 8501],
    ]);
    expect(tf.hostConfig.DeviceRequests).toBeUndefined();
  });

  it('with a GPU: the -gpu image, an NVIDIA device request for every GPU, and TF32 off', () => {
    const tf = built(gpu.tfServing);
    expect(tf.imageName.string).toBe(TF_SERVING_GPU_IMAGE);
    expect(tf.hostConfig.DeviceRequests).toEqual([NVIDIA_DEVICE_REQUEST]);
    expect(NVIDIA_DEVICE_REQUEST).toMatchObject({ Driver: 'nvidia', Count: -1, Capabilities: [['gpu']] });
    expect(tf.environment).toMatchObject({ NVIDIA_TF32_OVERRIDE: '0' });
  });

  it('takes other images by option, as CI passes its locally built ones', () => {
    expect(
      containerImages({
        images: { kong: 'modelgate/kong-emulator:dev' },
        gpu: { enabled: true, name: null },
      }),
    ).toEqual({
      kong: 'modelgate/kong-emulator:dev',
      keycloak: 'quay.io/keycloak/keycloak:26.7.3',
      tfServing: 'tensorflow/serving:2.21.0-gpu',
    });
  });

  it('takes them from MODELGATE_*_IMAGE, an empty variable keeping the default', () => {
    const images = imagesFromEnv({
      MODELGATE_KONG_IMAGE: 'mirror.example/kong:3.9.3',
      MODELGATE_KEYCLOAK_IMAGE: '',
      MODELGATE_TF_SERVING_IMAGE: 'modelgate-ci/tf-serving-emulator:2.21.0',
    });
    expect(images).toEqual({
      kong: 'mirror.example/kong:3.9.3',
      tfServing: 'modelgate-ci/tf-serving-emulator:2.21.0',
    });
    expect(containerImages({ images }).keycloak).toBe('quay.io/keycloak/keycloak:26.7.3');
  });
});
