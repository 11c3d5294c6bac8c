import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { status } from '@grpc/grpc-js';
import { buildModel } from '@modelgate/fixtures';
import { NodeDefSchema, SavedModelSchema, ModelVersionStatus_State as State } from '@modelgate/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelConfigEntry } from './model-config.js';
import type { ModelRunner } from './model-runner.js';
import { createModelRunner } from './model-runner-factory.js';
import { ServableManager } from './servable-manager.js';
import { collectingLog } from './testing/collecting-log.js';
import { type ModelRepository, modelRepository } from './testing/model-repository.js';

let runner: ModelRunner;
let repo: ModelRepository;

beforeAll(async () => {
  runner = await createModelRunner({ prefer: 'wasm' });
  repo = await modelRepository([
    { name: 'classifier', graph: 'classifier', version: 1 },
    { name: 'classifier', graph: 'classifier', version: 2 },
    { name: 'half_plus_two', graph: 'half_plus_two', version: 1 },
  ]);
});
afterAll(() => repo.remove());

function entry(
  name: string,
  basePath = repo.basePath(name),
  labels: [string, bigint][] = [],
): ModelConfigEntry {
  return { name, basePath, versionPolicy: { kind: 'all' }, versionLabels: new Map(labels) };
}

async function loaded(models: ModelConfigEntry[], tags = ['serve']) {
  const { log, messages } = collectingLog();
  const manager = new ServableManager({ runner, tags, log });
  await manager.applyConfig(models);
  return { manager, messages };
}

/** A model folder with one version whose files are written by `write`. */
async function badModel(name: string, write: (versionDir: string) => Promise<void>): Promise<string> {
  const versionDir = join(repo.root, name, '1');
  await mkdir(versionDir, { recursive: true });
  await write(versionDir);
  return versionDir;
}

function unavailable(name: string, error: string): string {
  return `1 model(s) did not become available: {{{name: ${name} version: 1} due to error: ${error}}, }`;
}

describe('loading model versions', () => {
  it('loads every aspired version and logs the real loader lines', async () => {
    const { manager, messages } = await loaded([entry('classifier')]);
    expect(manager.versionStatuses('classifier')).toEqual([
      { version: 2n, state: State.AVAILABLE, errorCode: status.OK, errorMessage: '' },
      { version: 1n, state: State.AVAILABLE, errorCode: status.OK, errorMessage: '' },
    ]);
    expect(messages()).toEqual(
      expect.arrayContaining([
        'Adding/updating models.',
        ' (Re-)adding model: classifier',
        'Approving load for servable version {name: classifier version: 1}',
        'Loading servable version {name: classifier version: 1}',
        `Reading SavedModel from: ${join(repo.root, 'classifier', '1')}`,
        'Reading meta graph with tags { serve }',
        'Successfully loaded servable version {name: classifier version: 1}',
        'Finished adding/updating models',
      ]),
    );
  });

  it('refuses a version folder without saved_model.pb, naming the folder', async () => {
    const dir = await badModel('no_pb', async () => {});
    await expect(loaded([entry('no_pb')])).rejects.toMatchObject({
      code: status.UNKNOWN,
      message: unavailable(
        'no_pb',
        `NOT_FOUND: Could not find SavedModel .pb or .pbtxt at supplied export directory path: ${dir}. Check that the directory exists and that you have the right permissions for accessing it.`,
      ),
    });
  });

  it('refuses a saved_model.pb that does not parse, naming the file', async () => {
    const dir = await badModel('corrupt', (d) =>
      writeFile(join(d, 'saved_model.pb'), Uint8Array.of(0xff, 0xff, 0xff)),
    );
    await expect(loaded([entry('corrupt')])).rejects.toMatchObject({
      message: unavailable(
        'corrupt',
        `DATA_LOSS: Can't parse ${join(dir, 'saved_model.pb')} as binary proto`,
      ),
    });
  });

  it('refuses a SavedModel without a MetaGraphDef for --saved_model_tags', async () => {
    await expect(loaded([entry('half_plus_two')], ['serve', 'gpu'])).rejects.toMatchObject({
      message: unavailable(
        'half_plus_two',
        'NOT_FOUND: Could not find meta graph def matching supplied tags: { serve gpu }. To inspect available tag-sets in the SavedModel, please use the SavedModel CLI: `saved_model_cli`',
      ),
    });
  });

  it('refuses a graph with an op tfjs cannot run, naming the folder, the op and the node', async () => {
    const savedModel = fromBinary(SavedModelSchema, buildModel('half_plus_two', 1).savedModel);
    const graph = savedModel.metaGraphs[0]?.graphDef;
    const mul = graph?.node.find((node) => node.op === 'Mul');
    if (!mul) throw new Error('fixture graph changed: no Mul node');
    mul.op = 'Bogus';
    const dir = await badModel('unsupported_op', (d) =>
      writeFile(join(d, 'saved_model.pb'), toBinary(SavedModelSchema, savedModel)),
    );
    await expect(loaded([entry('unsupported_op')])).rejects.toMatchObject({
      message: unavailable(
        'unsupported_op',
        `UNIMPLEMENTED: The SavedModel at ${dir} cannot run on the tfjs graph runner: op Bogus (node ${mul.name}) is not supported by tfjs-converter 4.22`,
      ),
    });
  });

  it('refuses a graph whose variables have no SaverDef to restore them', async () => {
    const savedModel = fromBinary(SavedModelSchema, buildModel('half_plus_two', 1).savedModel);
    const graph = savedModel.metaGraphs[0]?.graphDef;
    const mul = graph?.node.find((node) => node.op === 'Mul');
    if (!graph || !mul) throw new Error('fixture graph changed: no Mul node');
    graph.node.push(create(NodeDefSchema, { name: 'v', op: 'VarHandleOp' }));
    mul.input[0] = 'v';
    const dir = await badModel('no_saver', (d) =>
      writeFile(join(d, 'saved_model.pb'), toBinary(SavedModelSchema, savedModel)),
    );
    await expect(loaded([entry('no_saver')])).rejects.toMatchObject({
      message: unavailable(
        'no_saver',
        `UNIMPLEMENTED: The SavedModel at ${dir} cannot run on the tfjs graph runner: the graph has variables but no SaverDef to restore them`,
      ),
    });
  });

  it('records a failed version as END with its error, as GetModelStatus shows it', async () => {
    const { log } = collectingLog();
    const manager = new ServableManager({ runner, tags: ['serve'], log });
    await expect(manager.applyConfig([entry('no_pb')])).rejects.toThrow();
    expect(manager.versionStatuses('no_pb')).toEqual([
      expect.objectContaining({ version: 1n, state: State.END, errorCode: status.NOT_FOUND }),
    ]);
  });
});

describe('finding the version a request names', () => {
  let manager: ServableManager;
  beforeAll(async () => {
    ({ manager } = await loaded([
      entry('classifier', undefined, [
        ['stable', 1n],
        ['gone', 9n],
      ]),
    ]));
  });

  it('answers the highest version when none is named (Latest)', () => {
    expect(manager.handle({ name: 'classifier' }).version).toBe(2n);
  });

  it('answers the named version (Specific) and the labelled one', () => {
    expect(manager.handle({ name: 'classifier', version: 1n }).version).toBe(1n);
    expect(manager.handle({ name: 'classifier', label: 'stable' }).version).toBe(1n);
  });

  it.each([
    [{ name: 'nope' }, status.NOT_FOUND, 'Servable not found for request: Latest(nope)'],
    [
      { name: 'classifier', version: 3n },
      status.NOT_FOUND,
      'Servable not found for request: Specific(classifier, 3)',
    ],
    [
      { name: 'classifier', label: 'gone' },
      status.NOT_FOUND,
      'Servable not found for request: Specific(classifier, 9)',
    ],
    [
      { name: 'classifier', label: 'canary' },
      status.INVALID_ARGUMENT,
      'Unrecognized servable version label: canary',
    ],
    [{ name: '' }, status.INVALID_ARGUMENT, 'ModelSpec has no name specified.'],
  ])('refuses %o with %i: %s', (request, code, message) => {
    expect(() => manager.handle(request)).toThrow(expect.objectContaining({ code, message }));
  });

  it('marks every version UNLOADING then END when unloading', () => {
    const { log } = collectingLog();
    const other = new ServableManager({ runner, tags: ['serve'], log });
    return other.applyConfig([entry('half_plus_two')]).then(() => {
      other.stop();
      expect(other.versionStatuses('half_plus_two')).toEqual([
        { version: 1n, state: State.END, errorCode: status.OK, errorMessage: '' },
      ]);
      expect(() => other.handle({ name: 'half_plus_two' })).toThrow(
        'Servable not found for request: Latest(half_plus_two)',
      );
    });
  });
});
