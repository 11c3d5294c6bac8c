import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RealmImport } from '@modelgate/policy';

/** `--import-realm` reads only these names, as the real server does. */
const REALM_FILE = /-realm\.json$/;

export class RealmFileError extends Error {
  override readonly name = 'RealmFileError';

  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`${file}: ${reason}; fix or remove the file, it is imported by --import-realm`);
  }
}

function realmImport(file: string, text: string): RealmImport {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new RealmFileError(file, `not JSON (${(error as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || typeof (json as { realm?: unknown }).realm !== 'string') {
    throw new RealmFileError(file, 'expected a realm representation with a "realm" name');
  }
  return json as RealmImport;
}

/** The realm files of an import folder (`<name>-realm.json`), in name order. */
export async function readRealmFiles(folder: string): Promise<RealmImport[]> {
  const names = (await readdir(folder)).filter((name) => REALM_FILE.test(name)).sort();
  return Promise.all(
    names.map(async (name) => {
      const file = join(folder, name);
      return realmImport(file, await readFile(file, 'utf8'));
    }),
  );
}
