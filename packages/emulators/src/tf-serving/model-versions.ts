import { access, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import type { ModelConfigEntry } from './model-config.js';
import type { ServerLog } from './server-log.js';
import { fileSystemError } from './text-proto-file.js';
import { TfServingError } from './tf-serving-error.js';

/** One version folder to load: `<base_path>/<child>`. */
export interface AspiredVersion {
  version: bigint;
  path: string;
}

const SOURCE = 'tensorflow_serving/sources/storage_path/file_system_storage_path_source.cc';
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const VERSION_NAME = /^\s*[+-]?\d+\s*$/;

/** A child folder name read as a version, as absl::SimpleAtoi reads it (`01` and ` 1` are version 1). */
export function parseVersionNumber(child: string): bigint | undefined {
  if (!VERSION_NAME.test(child)) return undefined;
  const version = BigInt(child.trim());
  return version < INT64_MIN || version > INT64_MAX ? undefined : version;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** Children by version; for two names of one version (`1`, `01`) the later name wins, with TF's warning. */
function indexChildrenByVersion(children: readonly string[], log: ServerLog): Map<bigint, string> {
  const byVersion = new Map<bigint, string>();
  for (const child of children) {
    const version = parseVersionNumber(child);
    if (version === undefined) continue;
    const previous = byVersion.get(version);
    if (previous !== undefined) {
      log.warn(
        `${SOURCE}:129`,
        `Duplicate version directories detected. Version ${version} will be loaded from ${child}, ${previous} will be ignored.`,
      );
    }
    byVersion.set(version, child);
  }
  return byVersion;
}

/**
 * The versions a model's policy picks among the numbered children of its base path, as TF Serving's
 * FileSystemStoragePathSource picks them: `latest` the N highest, `all` every numbered child, `specific` the
 * listed ones that exist (warning about the others). A missing base path fails with the real message (the
 * manager logs it and polls again); no version at all is a warning and an empty list.
 */
export async function aspiredVersions(model: ModelConfigEntry, log: ServerLog): Promise<AspiredVersion[]> {
  const { basePath, name, versionPolicy: policy } = model;
  if (!(await exists(basePath))) {
    throw new TfServingError(
      status.INVALID_ARGUMENT,
      `Could not find base path ${basePath} for servable ${name} with error NOT_FOUND: ${basePath} not found`,
    );
  }
  if (policy.kind === 'specific' && policy.versions.length === 0) {
    log.warn(`${SOURCE}:181`, `No specific versions requested for servable ${name}.`);
    return [];
  }
  let children: string[];
  try {
    children = (await readdir(basePath)).sort();
  } catch (error) {
    throw fileSystemError(basePath, error);
  }
  const byVersion = indexChildrenByVersion(children, log);
  const aspired = selectVersions(policy, children, byVersion, name, log).map(([version, child]) => ({
    version,
    path: join(basePath, child),
  }));
  if (aspired.length === 0) {
    log.warn(
      `${SOURCE}:314`,
      `No versions of servable ${name} found under base path ${basePath}. Did you forget to name your leaf directory as a number (eg. '/1/')?`,
    );
  }
  return aspired;
}

function selectVersions(
  policy: ModelConfigEntry['versionPolicy'],
  children: readonly string[],
  byVersion: ReadonlyMap<bigint, string>,
  name: string,
  log: ServerLog,
): [bigint, string][] {
  const ascending = [...byVersion.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  switch (policy.kind) {
    case 'latest':
      return ascending.reverse().slice(0, policy.numVersions);
    case 'all':
      return children.flatMap((child) => {
        const version = parseVersionNumber(child);
        return version === undefined ? [] : [[version, child] as [bigint, string]];
      });
    case 'specific': {
      const wanted = new Set(policy.versions);
      for (const version of wanted) {
        if (byVersion.has(version)) continue;
        log.warn(
          `${SOURCE}:238`,
          `Version ${version} of servable ${name}, which was requested to be served as a 'specific' version in the servable's version policy, was not found in the file system`,
        );
      }
      return ascending.filter(([version]) => wanted.has(version));
    }
  }
}
