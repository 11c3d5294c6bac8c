import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { modelFiles, signatureOf } from '@modelgate/fixtures';
import {
  clientClaim,
  clientSecret,
  compilePolicy,
  issuerUrl,
  keycloakIssuer,
  MAX_PAYLOAD_MEGABYTES,
  maximumTokenLifetime,
  type Policy,
  type SecretsFile,
  servedVersions,
  tfServingModelConfig,
  tfServingMonitoringConfig,
  type UpstreamOptions,
  writeCompiledPolicy,
} from '@modelgate/policy';
import type { StackClient, StackModel } from './stack-description.js';

// What a stack is configured with, written to one folder from the policy: the compiled policy (realm, Kong
// config, plugin, keys), the fixture models as SavedModels, and TF Serving's model and monitoring configs.
// Providers mount or pass these files; none of them edits one.

export interface StackFileLayout {
  /** Where TF Serving finds a model's version folders (inside its container, or on disk). */
  modelBasePath(model: string, files: StackFiles): string;
  /** Where Kong reaches TF Serving. */
  upstream: UpstreamOptions;
  /** Where Kong writes its audit log (file-log), inside its container or on disk. */
  auditLogPath: string;
}

export interface StackFiles {
  dir: string;
  /** The compiled policy's folder: gateway/kong.json, kong-plugins/, realm/, keys/. */
  compiledDir: string;
  kongConfigFile: string;
  pluginDir: string;
  /** The folder holding the realm import (keycloak issuer), or null. */
  realmImportDir: string | null;
  /** Fixture models written as SavedModels: <dir>/<model>/<version>/saved_model.pb. */
  fixtureModelsDir: string;
  modelConfigFile: string;
  monitoringConfigFile: string;
}

/** Writes every file a stack needs for the policy under `dir`. */
export async function writeStackFiles(
  policy: Policy,
  secrets: SecretsFile | undefined,
  dir: string,
  layout: StackFileLayout,
): Promise<StackFiles> {
  const files: StackFiles = {
    dir,
    compiledDir: join(dir, 'compiled'),
    kongConfigFile: join(dir, 'compiled', 'gateway', 'kong.json'),
    pluginDir: join(dir, 'compiled', 'kong-plugins'),
    realmImportDir: policy.issuer.kind === 'keycloak' ? join(dir, 'compiled', 'realm') : null,
    fixtureModelsDir: join(dir, 'models'),
    modelConfigFile: join(dir, 'tf-serving', 'models.config'),
    monitoringConfigFile: join(dir, 'tf-serving', 'monitoring.config'),
  };
  // The audit log goes where this stack's gateway can write it.
  const stackPolicy: Policy = {
    ...policy,
    logging: { ...policy.logging, auditLogPath: layout.auditLogPath },
  };
  await writeCompiledPolicy(
    await compilePolicy(stackPolicy, secrets, { upstream: layout.upstream }),
    files.compiledDir,
  );
  const fixtures = policy.models.flatMap(({ name, source, versions }) =>
    source.kind === 'fixture' ? versions.map((version) => ({ name, graph: source.fixture, version })) : [],
  );
  for (const [path, bytes] of modelFiles(fixtures)) {
    if (!path.startsWith('saved-models/')) continue;
    const target = join(files.fixtureModelsDir, path.slice('saved-models/'.length));
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, bytes);
  }
  await mkdir(dirname(files.modelConfigFile), { recursive: true });
  await writeFile(
    files.modelConfigFile,
    tfServingModelConfig(policy, (model) => layout.modelBasePath(model, files)),
  );
  await writeFile(files.monitoringConfigFile, tfServingMonitoringConfig());
  if (files.realmImportDir) await chmod(files.realmImportDir, 0o700);
  return files;
}

/** Where a model's version folders are on this machine: the fixture models' folder, or the model's own path. */
export function localModelBasePath(policy: Policy, model: string, files: StackFiles): string {
  const entry = policy.models.find((candidate) => candidate.name === model);
  if (entry?.source.kind === 'path') return entry.source.basePath;
  return join(files.fixtureModelsDir, model);
}

/** The stack description's clients: their secrets where modelgate made them (keycloak issuer), else null. */
export function stackClients(policy: Policy, secrets: SecretsFile | undefined): StackClient[] {
  return policy.clients.map((client) => ({
    id: client.id,
    secret: policy.issuer.kind === 'keycloak' && secrets ? clientSecret(secrets, client.id) : null,
    models: [...client.models],
    limits: { ...client.limits },
  }));
}

/** The stack description's models, with their signatures. */
export function stackModels(policy: Policy): StackModel[] {
  return policy.models.map((model) => ({
    name: model.name,
    versions: [...model.versions],
    servedVersions: servedVersions(model),
    signature: signatureOf(policy, model.name),
    golden: model.source.kind === 'fixture',
    fixture: model.source.kind === 'fixture' ? model.source.fixture : null,
  }));
}

/** What the stack description says of the issuer beyond its URLs. */
export function issuerFacts(policy: Policy): {
  issuer: string;
  audience: string;
  clientClaim: string;
  maxTokenLifetimeSeconds: number;
} {
  return {
    issuer: issuerUrl(policy),
    audience: policy.issuer.audience,
    clientClaim: clientClaim(policy),
    maxTokenLifetimeSeconds: maximumTokenLifetime(policy),
  };
}

/** Request-size-limiting's bound, in bytes. */
export const GATEWAY_MAX_BODY_BYTES = MAX_PAYLOAD_MEGABYTES * 1024 * 1024;

/** The realm path of a keycloak issuer's endpoints: `/realms/<realm>`. */
export function realmPath(policy: Policy): string {
  return `/realms/${keycloakIssuer(policy).issuer.realm}`;
}
