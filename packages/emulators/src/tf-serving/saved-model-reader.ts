import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import { fromText } from '@bufbuild/protobuf/txtpb';
import { status } from '@grpc/grpc-js';
import { type MetaGraphDef, type SavedModel, SavedModelSchema } from '@modelgate/proto';
import type { ServerLog } from './server-log.js';
import { fileSystemError } from './text-proto-file.js';
import { TfServingError } from './tf-serving-error.js';

const READER = 'tensorflow/cc/saved_model/reader.cc';

async function readIfPresent(path: string): Promise<Uint8Array | undefined> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw fileSystemError(path, error);
  }
}

/** saved_model.pb, else saved_model.pbtxt, with TensorFlow's messages (cc/saved_model/reader.cc). */
async function readSavedModelProto(exportDir: string): Promise<SavedModel> {
  const pbPath = join(exportDir, 'saved_model.pb');
  const binary = await readIfPresent(pbPath);
  if (binary) {
    try {
      return fromBinary(SavedModelSchema, binary);
    } catch (error) {
      throw new TfServingError(status.DATA_LOSS, `Can't parse ${pbPath} as binary proto`, { cause: error });
    }
  }
  const pbtxtPath = join(exportDir, 'saved_model.pbtxt');
  const text = await readIfPresent(pbtxtPath);
  if (text) {
    try {
      return fromText(SavedModelSchema, new TextDecoder().decode(text));
    } catch (error) {
      throw new TfServingError(status.DATA_LOSS, `Can't parse ${pbtxtPath} as text proto`, { cause: error });
    }
  }
  throw TfServingError.notFound(
    `Could not find SavedModel .pb or .pbtxt at supplied export directory path: ${exportDir}. Check that the directory exists and that you have the right permissions for accessing it.`,
  );
}

function sameTags(graphTags: readonly string[], wanted: ReadonlySet<string>): boolean {
  const tags = new Set(graphTags);
  return tags.size === wanted.size && [...tags].every((tag) => wanted.has(tag));
}

/** The MetaGraphDef whose tag set equals `tags` exactly, as TensorFlow's SavedModel loader picks it. */
export async function readMetaGraph(
  exportDir: string,
  tags: readonly string[],
  log: ServerLog,
): Promise<MetaGraphDef> {
  log.info(`${READER}:83`, `Reading SavedModel from: ${exportDir}`);
  const savedModel = await readSavedModelProto(exportDir);
  const wanted = new Set(tags);
  const tagList = [...wanted].join(' ');
  log.info(`${READER}:51`, `Reading meta graph with tags { ${tagList} }`);
  const metaGraph = savedModel.metaGraphs.find((graph) => sameTags(graph.metaInfoDef?.tags ?? [], wanted));
  if (!metaGraph) {
    throw TfServingError.notFound(
      `Could not find meta graph def matching supplied tags: { ${tagList} }. To inspect available tag-sets in the SavedModel, please use the SavedModel CLI: \`saved_model_cli\``,
    );
  }
  return metaGraph;
}
