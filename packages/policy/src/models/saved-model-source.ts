import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import { SavedModelSchema } from '@modelgate/proto';
import type { PolicyIssue } from '../policy-error.js';
import { type ServingSignature, servingSignature } from './serving-signature.js';

// A model of the team's own: a TF Serving base path whose numeric child folders hold SavedModels. What the
// policy needs of it is read from the files themselves: the versions on disk and, from each version's
// saved_model.pb, the MetaGraphDef tagged `serve` and its signature.

/** TF Serving reads warmup requests (a TFRecord of PredictionLog) from here in each version folder. */
export const WARMUP_REQUESTS_FILE = 'assets.extra/tf_serving_warmup_requests';

const SERVE_TAGS = ['serve'];

export interface SavedModelVersion {
  version: number;
  /** The version folder, absolute. */
  dir: string;
  signature: ServingSignature;
  /** The TF Serving warmup file of this version, absolute, when the SavedModel has one. */
  warmupRequests: string | null;
}

export interface SavedModelSource {
  /** The base path, absolute. */
  basePath: string;
  /** Every version on disk, ascending. */
  versions: SavedModelVersion[];
}

/** Version folders as TF Serving finds them: children whose whole name is a non-negative decimal number. */
function versionFolders(basePath: string): number[] {
  return readdirSync(basePath, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && /^[0-9]{1,15}$/.test(entry.name))
    .map((entry) => Number(entry.name))
    .sort((a, b) => a - b);
}

function readVersion(
  basePath: string,
  version: number,
  signatureName: string,
  at: string,
): SavedModelVersion | PolicyIssue {
  const dir = join(basePath, String(version));
  const file = join(dir, 'saved_model.pb');
  if (!existsSync(file)) {
    const text = existsSync(join(dir, 'saved_model.pbtxt')) ? ' (saved_model.pbtxt is not read)' : '';
    return {
      path: at,
      message: `version ${version} has no SavedModel: ${file} is missing${text}`,
      value: dir,
    };
  }
  let savedModel: ReturnType<typeof fromBinary<typeof SavedModelSchema>>;
  try {
    savedModel = fromBinary(SavedModelSchema, readFileSync(file));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { path: at, message: `cannot read ${file} as a SavedModel: ${reason}`, value: file };
  }
  const metaGraph = savedModel.metaGraphs.find((candidate) => {
    const tags = candidate.metaInfoDef?.tags ?? [];
    return tags.length === SERVE_TAGS.length && SERVE_TAGS.every((tag) => tags.includes(tag));
  });
  if (!metaGraph) {
    const found = savedModel.metaGraphs.map(
      (candidate) => `{${(candidate.metaInfoDef?.tags ?? []).join(', ')}}`,
    );
    return {
      path: at,
      message: `${file} has no MetaGraphDef tagged exactly {serve} (has: ${found.join(' ') || 'none'})`,
      value: file,
    };
  }
  const def = metaGraph.signatureDef[signatureName];
  if (!def) {
    const known = Object.keys(metaGraph.signatureDef).sort().join(', ') || 'none';
    return {
      path: at,
      message: `${file} has no signature "${signatureName}" (has: ${known})`,
      value: signatureName,
    };
  }
  const warmup = join(dir, WARMUP_REQUESTS_FILE);
  return {
    version,
    dir,
    signature: servingSignature(signatureName, def),
    warmupRequests: existsSync(warmup) ? warmup : null,
  };
}

/**
 * Reads a base path: its version folders and each one's signature. Returns the issues instead when the folder
 * is missing, has no version folder, or a version's SavedModel or signature cannot be read. `at` is the
 * policy path the issues are filed under (e.g. `models[3].source.path`).
 */
export function readSavedModelSource(
  basePath: string,
  signatureName: string,
  at: string,
): SavedModelSource | PolicyIssue[] {
  if (!existsSync(basePath) || !statSync(basePath).isDirectory()) {
    return [{ path: at, message: `no such folder: ${basePath}`, value: basePath }];
  }
  const numbers = versionFolders(basePath);
  if (numbers.length === 0) {
    return [
      {
        path: at,
        message: `no version folder in ${basePath} (TF Serving serves children named by a number, e.g. ${join(basePath, '1')})`,
        value: basePath,
      },
    ];
  }
  const versions: SavedModelVersion[] = [];
  const issues: PolicyIssue[] = [];
  for (const version of numbers) {
    const read = readVersion(basePath, version, signatureName, at);
    if ('signature' in read) versions.push(read);
    else issues.push(read);
  }
  return issues.length > 0 ? issues : { basePath, versions };
}
