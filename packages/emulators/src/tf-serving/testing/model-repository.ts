import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { modelFiles, type ServedModel } from '@modelgate/fixtures';

/** A temporary model base folder holding fixture SavedModels: `<root>/<name>/<version>/saved_model.pb`. */
export interface ModelRepository {
  root: string;
  basePath(name: string): string;
  remove(): Promise<void>;
}

/** Writes the fixtures' SavedModels of `models` under a fresh temporary folder. */
export async function modelRepository(models: ServedModel[]): Promise<ModelRepository> {
  const root = await mkdtemp(join(tmpdir(), 'tf-serving-models-'));
  for (const [path, bytes] of modelFiles(models)) {
    if (!path.startsWith('saved-models/')) continue;
    const target = join(root, path.slice('saved-models/'.length));
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, bytes);
  }
  return {
    root,
    basePath: (name) => join(root, name),
    remove: () => rm(root, { recursive: true, force: true }),
  };
}
