import { create } from '@bufbuild/protobuf';
import { DEFAULT_POLICY, type Policy, tfServingModelServerConfig } from '@modelgate/policy';
import { MonitoringConfigSchema } from '@modelgate/proto';
import type { ModelRunner } from '../model-runner.js';
import {
  type StartedTfServing,
  TfServingEmulator,
  type TfServingEmulatorOptions,
} from '../tf-serving-emulator.js';
import { modelRepository } from './model-repository.js';

/** An emulator serving a policy's models from a temporary folder, with its log lines. */
export interface ServedFixtures extends StartedTfServing {
  emulator: TfServingEmulator;
  logLines: string[];
  stop(): Promise<void>;
}

/**
 * Starts an emulator on free ports serving the policy's models (default: half_plus_two v1, classifier v1 and v2,
 * convnet v1) as a model config file would list them, with REST and Prometheus on unless overridden.
 */
export async function serveFixtures(
  runner: ModelRunner,
  options: TfServingEmulatorOptions = {},
  policy: Policy = DEFAULT_POLICY,
): Promise<ServedFixtures> {
  const repo = await modelRepository(
    policy.models.flatMap(({ name, source, versions }) =>
      source.kind === 'fixture' ? versions.map((version) => ({ name, graph: source.fixture, version })) : [],
    ),
  );
  const logLines: string[] = [];
  const emulator = new TfServingEmulator({
    pickFreeGrpcPort: true,
    pickFreeRestPort: true,
    modelConfig: tfServingModelServerConfig(policy, repo.basePath),
    monitoringConfig: create(MonitoringConfigSchema, { prometheusConfig: { enable: true } }),
    runner,
    log: (line) => logLines.push(line),
    ...options,
  });
  try {
    const ports = await emulator.start();
    return {
      ...ports,
      emulator,
      logLines,
      stop: async () => {
        await emulator.stop();
        await repo.remove();
      },
    };
  } catch (error) {
    await repo.remove();
    throw error;
  }
}
