import { status } from '@grpc/grpc-js';
import { ModelVersionStatus_State as State } from '@modelgate/proto';
import type { ModelConfigEntry } from './model-config.js';
import type { LoadedServable, ModelRunner } from './model-runner.js';
import { type AspiredVersion, aspiredVersions } from './model-versions.js';
import { readMetaGraph } from './saved-model-reader.js';
import type { ServerLog } from './server-log.js';
import { asTfServingError, codeName, TfServingError } from './tf-serving-error.js';

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
  /**
   * --file_system_poll_wait_seconds (default 1): > 0 polls the base paths at that period, 0 polls once, < 0
   * never (FileSystemStoragePathSource::SetAspiredVersionsCallback).
   */
  fileSystemPollWaitSeconds?: number;
}

const SOURCE = 'tensorflow_serving/sources/storage_path/file_system_storage_path_source.cc';
const SERVER_CORE = 'tensorflow_serving/model_servers/server_core.cc';

/** Why start() or a reload stopped waiting: the manager was stopped. */
export class ManagerStoppedError extends TfServingError {
  constructor() {
    super(status.CANCELLED, 'The model server is stopping');
  }
}

/**
 * The versions of every configured model, kept in step with the file system as TF Serving's
 * FileSystemStoragePathSource and AspiredVersionsManager keep them: each poll aspires the versions the policy
 * picks, loads the new ones, and only then unloads the ones no longer aspired (AvailabilityPreservingPolicy);
 * a missing base path fails the whole poll and is retried at the next. With TF Serving's lookups:
 * Latest/Specific/label resolution and the real NOT_FOUND and INVALID_ARGUMENT messages
 * (core/basic_manager.cc, model_servers/server_core.cc), and the version states GetModelStatus reports.
 */
export class ServableManager {
  private readonly models = new Map<string, Map<bigint, VersionEntry>>();
  private readonly labels = new Map<string, ReadonlyMap<string, bigint>>();
  private config: readonly ModelConfigEntry[] = [];
  /** Polls and config changes run one at a time, in order. */
  private queue: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly pollListeners = new Set<() => void>();

  constructor(private readonly options: ServableManagerOptions) {}

  private serialized<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * ServerCore's part of ReloadConfig: models no longer listed are unloaded, new ones are polled for, and the
   * call returns once each new model has a version AVAILABLE, or fails as the real server does
   * (UNKNOWN `N model(s) did not become available: {...}`) when its versions all failed to load. A model
   * whose base path is missing or empty is waited for, poll after poll, as the real server waits for it.
   */
  async applyConfig(models: readonly ModelConfigEntry[]): Promise<void> {
    const { log } = this.options;
    log.info(`${SERVER_CORE}:516`, 'Adding/updating models.');
    const known = new Set(this.config.map((model) => model.name));
    const fresh = models.filter((model) => !known.has(model.name)).map((model) => model.name);
    await this.serialized(async () => {
      const listed = new Set(models.map((model) => model.name));
      for (const [name, versions] of this.models) {
        if (!listed.has(name)) this.unloadVersions(name, versions, () => true);
      }
      for (const model of models) {
        log.info(`${SERVER_CORE}:645`, ` (Re-)adding model: ${model.name}`);
        this.labels.set(model.name, model.versionLabels);
      }
      this.config = models;
    });
    this.startPolling();
    await this.waitUntilAvailable(fresh);
    log.info(`${SERVER_CORE}:537`, 'Finished adding/updating models');
  }

  /** Whether a version is AVAILABLE now (for labels given in a reloaded config). */
  isAvailable(name: string, version: bigint): boolean {
    return this.models.get(name)?.get(version)?.status.state === State.AVAILABLE;
  }

  /** A poll now (a config change is acted on at once), then one every period unless the flag says otherwise. */
  private startPolling(): void {
    const seconds = this.options.fileSystemPollWaitSeconds ?? 1;
    if (seconds < 0) return;
    void this.poll();
    if (seconds > 0 && !this.timer) {
      this.timer = setInterval(() => void this.poll(), seconds * 1000);
      this.timer.unref();
    }
  }

  /** One pass of FileSystemStoragePathSource::PollFileSystemAndInvokeCallback and the manager's actions. */
  poll(): Promise<void> {
    return this.serialized(async () => {
      if (this.stopped) return;
      const { log } = this.options;
      const found: [ModelConfigEntry, AspiredVersion[]][] = [];
      try {
        for (const model of this.config) found.push([model, await aspiredVersions(model, log)]);
      } catch (cause) {
        log.error(
          `${SOURCE}:416`,
          `FileSystemStoragePathSource encountered a filesystem access error: ${asTfServingError(cause).message}`,
        );
        return;
      }
      for (const [model, aspired] of found) await this.reconcile(model.name, aspired);
    }).finally(() => {
      for (const listener of this.pollListeners) listener();
    });
  }

  /** Loads the newly aspired versions, then unloads those no longer aspired. */
  private async reconcile(name: string, aspired: readonly AspiredVersion[]): Promise<void> {
    let versions = this.models.get(name);
    if (!versions) {
      versions = new Map();
      this.models.set(name, versions);
    }
    for (const { version, path } of aspired) {
      const entry = versions.get(version);
      // A version that failed stays END with its error, as the real manager keeps it after its retries.
      if (entry && (entry.status.state !== State.END || entry.status.errorCode !== status.OK)) continue;
      await this.loadVersion(name, version, path, versions);
    }
    const wanted = new Set(aspired.map((item) => item.version));
    this.unloadVersions(name, versions, (version) => !wanted.has(version));
  }

  /** Resolves once every named model has an AVAILABLE version; fails when one's versions all failed. */
  private waitUntilAvailable(names: readonly string[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        if (this.stopped) return finish(new ManagerStoppedError());
        const failures: string[] = [];
        // ServerCore::WaitUntilModelsAvailable waits for Latest(model): the highest version found.
        for (const name of names) {
          const latest = [...(this.models.get(name)?.values() ?? [])].sort((a, b) =>
            byVersionDescending(a.status.version, b.status.version),
          )[0];
          if (latest?.status.state === State.AVAILABLE) continue;
          if (!latest || latest.status.errorCode === status.OK) return;
          failures.push(
            `{${servableIdString(name, latest.status.version)} due to error: ${codeName(latest.status.errorCode)}: ${latest.status.errorMessage}}, `,
          );
        }
        if (failures.length === 0) return finish();
        finish(
          new TfServingError(
            status.UNKNOWN,
            `${failures.length} model(s) did not become available: {${failures.join('')}}`,
          ),
        );
      };
      const finish = (error?: Error) => {
        this.pollListeners.delete(check);
        if (error) reject(error);
        else resolve();
      };
      this.pollListeners.add(check);
      // Settled already when the models are known; otherwise the next poll settles it.
      if (names.length === 0) finish();
    });
  }

  private async loadVersion(
    name: string,
    version: bigint,
    exportDir: string,
    versions: Map<bigint, VersionEntry>,
  ): Promise<void> {
    const { log, runner, tags } = this.options;
    const id = servableIdString(name, version);
    const entry: VersionEntry = {
      status: { version, state: State.START, errorCode: status.OK, errorMessage: '' },
    };
    versions.set(version, entry);
    log.info(`${HARNESS}:70`, `Approving load for servable version ${id}`);
    entry.status.state = State.LOADING;
    log.info(`${HARNESS}:78`, `Loading servable version ${id}`);
    try {
      const metaGraph = await readMetaGraph(exportDir, tags, log);
      entry.servable = await runner.load({ exportDir, metaGraph, tags });
      entry.status.state = State.AVAILABLE;
      log.info(`${HARNESS}:108`, `Successfully loaded servable version ${id}`);
    } catch (cause) {
      const error = asTfServingError(cause);
      entry.status = { version, state: State.END, errorCode: error.code, errorMessage: error.message };
      log.error(
        'tensorflow_serving/util/retrier.cc:40',
        `Loading servable: ${id} failed: ${error.toStatusString()}`,
      );
    }
  }

  /** UNLOADING, then END, for each AVAILABLE version `which` picks. */
  private unloadVersions(
    name: string,
    versions: ReadonlyMap<bigint, VersionEntry>,
    which: (version: bigint) => boolean,
  ): void {
    for (const entry of versions.values()) {
      if (entry.status.state !== State.AVAILABLE || !which(entry.status.version)) continue;
      const id = servableIdString(name, entry.status.version);
      entry.status.state = State.UNLOADING;
      this.options.log.info(`${HARNESS}:137`, `Unloading servable version ${id}`);
      entry.servable?.dispose();
      entry.servable = undefined;
      entry.status.state = State.END;
      this.options.log.info(`${HARNESS}:155`, `Done unloading servable version ${id}`);
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

  /** Stops polling, releases whoever waits for models, and unloads every version, as the server does when it stops. */
  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    for (const listener of this.pollListeners) listener();
    for (const [name, versions] of this.models) this.unloadVersions(name, versions, () => true);
  }
}
