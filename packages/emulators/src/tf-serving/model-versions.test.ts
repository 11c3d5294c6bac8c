import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelConfigEntry, VersionPolicy } from './model-config.js';
import { aspiredVersions, parseVersionNumber } from './model-versions.js';
import { collectingLog } from './testing/collecting-log.js';

let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tf-serving-versions-'));
  for (const child of ['1', '2', '10', 'tmp', '3.bak'])
    await mkdir(join(root, 'm', child), { recursive: true });
  await mkdir(join(root, 'empty', 'not-a-version'), { recursive: true });
  await mkdir(join(root, 'dup', '1'), { recursive: true });
  await mkdir(join(root, 'dup', '01'), { recursive: true });
  await writeFile(join(root, 'file'), '');
});
afterAll(() => rm(root, { recursive: true, force: true }));

function model(name: string, versionPolicy: VersionPolicy): ModelConfigEntry {
  return { name, basePath: join(root, name), versionPolicy, versionLabels: new Map() };
}

async function versions(entry: ModelConfigEntry) {
  const { log, messages } = collectingLog();
  const aspired = await aspiredVersions(entry, log);
  return { versions: aspired.map((v) => v.version), messages: messages() };
}

describe('version folders', () => {
  it('reads int64 folder names as absl::SimpleAtoi does', () => {
    expect(parseVersionNumber('1')).toBe(1n);
    expect(parseVersionNumber('0007')).toBe(7n);
    expect(parseVersionNumber('+3')).toBe(3n);
    expect(parseVersionNumber('9223372036854775807')).toBe(2n ** 63n - 1n);
    expect(parseVersionNumber('9223372036854775808')).toBeUndefined();
    expect(parseVersionNumber('1a')).toBeUndefined();
    expect(parseVersionNumber('tmp')).toBeUndefined();
  });

  it('serves only the highest version by default (latest, num_versions 1)', async () => {
    expect((await versions(model('m', { kind: 'latest', numVersions: 1 }))).versions).toEqual([10n]);
  });

  it('serves the N highest with latest { num_versions: N }', async () => {
    expect((await versions(model('m', { kind: 'latest', numVersions: 2 }))).versions).toEqual([10n, 2n]);
  });

  it('serves every numbered folder with all {}', async () => {
    expect((await versions(model('m', { kind: 'all' }))).versions.sort()).toEqual([1n, 10n, 2n]);
  });

  it('serves the listed versions with specific {}, warning about those not on disk', async () => {
    const result = await versions(model('m', { kind: 'specific', versions: [2n, 7n] }));
    expect(result.versions).toEqual([2n]);
    expect(result.messages).toContain(
      "Version 7 of servable m, which was requested to be served as a 'specific' version in the servable's version policy, was not found in the file system",
    );
  });

  it('warns about an empty specific list', async () => {
    const result = await versions(model('m', { kind: 'specific', versions: [] }));
    expect(result).toEqual({ versions: [], messages: ['No specific versions requested for servable m.'] });
  });

  it('logs a base path without numbered folders as the real server does, and serves nothing', async () => {
    const result = await versions(model('empty', { kind: 'latest', numVersions: 1 }));
    expect(result.versions).toEqual([]);
    expect(result.messages).toEqual([
      `No versions of servable empty found under base path ${join(root, 'empty')}. Did you forget to name your leaf directory as a number (eg. '/1/')?`,
    ]);
  });

  it('loads one folder of two that name the same version, with the real warning', async () => {
    const result = await versions(model('dup', { kind: 'latest', numVersions: 1 }));
    expect(result.versions).toEqual([1n]);
    expect(result.messages).toEqual([
      'Duplicate version directories detected. Version 1 will be loaded from 1, 01 will be ignored.',
    ]);
  });

  it('refuses a missing base path with the message naming it', async () => {
    const missing = join(root, 'missing');
    await expect(
      aspiredVersions({ ...model('x', { kind: 'all' }), basePath: missing }, collectingLog().log),
    ).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      message: `Could not find base path ${missing} for servable x with error NOT_FOUND: ${missing} not found`,
    });
  });

  it('refuses a base path that is a file, naming it', async () => {
    const file = join(root, 'file');
    await expect(
      aspiredVersions({ ...model('x', { kind: 'all' }), basePath: file }, collectingLog().log),
    ).rejects.toMatchObject({
      code: status.FAILED_PRECONDITION,
      message: `${file}; Not a directory`,
    });
  });
});
