import { status } from '@grpc/grpc-js';
import { ModelVersionStatus_State as State } from '@modelgate/proto';
import type { ModelConfigEntry } from './model-config.js';
import type { LoadedServable, ModelRunner } from './model-runner.js';
import { aspiredVersions } from './model-versions.js';
import { readMetaGraph } from './saved-model-reader.js';
import type { ServerLog } from './server-log.js';
import { asTfServingError, TfServingError } from './tf-serving-error.js';

/** A served version, as a request reaches it. */
export interface ServableHandle {
  name: string;
  version: bigint;
  servable: LoadedServable;
}

/** One version's state as GetModelStatus reports it (ServableStateMonitor's view). */
export interface VersionStatus {
  version: bigint;
  state: State;
  /** OK, or why the version failed (its `status.error_code`). */
  errorCode: status;
  errorMessage: string;
}

/** Which version a request names: `version`, `label`, or neither (the latest). */
export interface VersionRequest {
  name: string;
  version?: bigint;
  label?: string;
}

interface VersionEntry {
  status: VersionStatus;
  servable?: LoadedServable;
}

const HARNESS = 'tensorflow_serving/core/loader_harness.cc';
const byVersionDescending = (a: bigint, b: bigint) => (a > b ? -1 : a < b ? 1 : 0);

/** `{name: m version: 1}`, as ServableId::DebugString prints it. */
export function servableIdString(name: string, version: bigint): string {
  return `{name: ${name} version: ${version}}`;
}

export interface ServableManagerOptions {
  runner: ModelRunner;
  /** --saved_model_tags, split on commas. */
  tags: readonly string[];
  log: ServerLog;
}

/**
 * The loaded versions of every model, with TF Serving's lookups: Latest/Specific/label resolution and the
 * real NOT_FOUND and INVALID_ARGUMENT messages (core/basic_manager.cc, model_servers/server_core.cc), and the
 * version states GetModelStatus reports.
 */
export class ServableManager {
  private readonly models = new Map<string, Map<bigint, VersionEntry>>();
  private readonly labels = new Map<string, ReadonlyMap<string, bigint>>();

  constructor(private readonly options: ServableManagerOptions) {}

  /**
   * Loads every aspired version of every model. Like the real server's start-up, fails when any version
   * cannot load, with UNKNOWN `N model(s) did not become available: {...}` naming each version and its error.
   */
  async loadAll(models: readonly ModelConfigEntry[]): Promise<void> {
    const { log } = this.options;
    log.info('tensorflow_serving/model_servers/server_core.cc:516', 'Adding/updating models.');
    const failures: string[] = [];
    for (const model of models) {
      log.info('tensorflow_serving/model_servers/server_core.cc:645', ` (Re-)adding model: ${model.name}`);
      const versions = new Map<bigint, VersionEntry>();
      this.models.set(model.name, versions);
      this.labels.set(model.name, model.versionLabels);
      for (const { version, path } of await aspiredVersions(model, log)) {
        const error = await this.loadVersion(model.name, version, path, versions);
        if (error)
          failures.push(
            `{${servableIdString(model.name, version)} due to error: ${error.toStatusString()}}, `,
          );
      }
    }
    if (failures.length > 0) {
      throw new TfServingError(
        status.UNKNOWN,
        `${failures.length} model(s) did not become available: {${failures.join('')}}`,
      );
    }
    log.info('tensorflow_serving/model_servers/server_core.cc:537', 'Finished adding/updating models');
  }

  private async loadVersion(
    name: string,
    version: bigint,
    exportDir: string,
    versions: Map<bigint, VersionEntry>,
  ): Promise<TfServingError | undefined> {
    const { log, runner, tags } = this.options;
    const id = servableIdString(name, version);
    const entry: VersionEntry = {
      status: { version, state: State.LOADING, errorCode: status.OK, errorMessage: '' },
    };
    versions.set(version, entry);
    log.info(`${HARNESS}:70`, `Approving load for servable version ${id}`);
    log.info(`${HARNESS}:78`, `Loading servable version ${id}`);
    try {
      const metaGraph = await readMetaGraph(exportDir, tags, log);
      entry.servable = await runner.load({ exportDir, metaGraph, tags });
      entry.status.state = State.AVAILABLE;
      log.info(`${HARNESS}:108`, `Successfully loaded servable version ${id}`);
      return undefined;
    } catch (cause) {
      const error = asTfServingError(cause);
      entry.status = { version, state: State.END, errorCode: error.code, errorMessage: error.message };
      log.error(
        'tensorflow_serving/util/retrier.cc:40',
        `Loading servable: ${id} failed: ${error.toStatusString()}`,
      );
      return error;
    }
  }

  /** The version a request reaches, or the error TF Serving gives when there is none. */
  handle(request: VersionRequest): ServableHandle {
    const { name } = request;
    if (name === '') throw TfServingError.invalidArgument('ModelSpec has no name specified.');
    let version = request.version;
    if (request.label !== undefined) {
      version = this.labels.get(name)?.get(request.label);
      if (version === undefined) {
        throw TfServingError.invalidArgument(`Unrecognized servable version label: ${request.label}`);
      }
    }
    const versions = this.models.get(name);
    if (version === undefined) {
      const latest = [...(versions?.values() ?? [])]
        .filter((entry) => entry.status.state === State.AVAILABLE)
        .sort((a, b) => byVersionDescending(a.status.version, b.status.version))[0];
      if (!latest?.servable) throw TfServingError.notFound(`Servable not found for request: Latest(${name})`);
      return { name, version: latest.status.version, servable: latest.servable };
    }
    const entry = versions?.get(version);
    if (entry?.status.state !== State.AVAILABLE || !entry.servable) {
      throw TfServingError.notFound(`Servable not found for request: Specific(${name}, ${version})`);
    }
    return { name, version, servable: entry.servable };
  }

  /** Every known version of a model, highest first (ServableStateMonitor's order); empty when unknown. */
  versionStatuses(name: string): VersionStatus[] {
    return [...(this.models.get(name)?.values() ?? [])]
      .map((entry) => ({ ...entry.status }))
      .sort((a, b) => byVersionDescending(a.version, b.version));
  }

  /** Unloads every version (UNLOADING, then END), as the server does when it stops. */
  unloadAll(): void {
    for (const [name, versions] of this.models) {
      for (const entry of versions.values()) {
        if (entry.status.state !== State.AVAILABLE) continue;
        entry.status.state = State.UNLOADING;
        entry.servable?.dispose();
        entry.servable = undefined;
        entry.status.state = State.END;
        this.options.log.info(
          `${HARNESS}:155`,
          `Done unloading servable version ${servableIdString(name, entry.status.version)}`,
        );
      }
    }
  }
}
