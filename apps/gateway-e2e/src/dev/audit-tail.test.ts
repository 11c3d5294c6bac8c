import { appendFile, mkdtemp, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuditLine, followAuditLog } from './audit-tail.js';

// `pnpm dev`'s view of the audit log, against a file written the ways a gateway and logrotate write it: lines
// that arrive in parts (a character split between two reads), truncation, rotation by renaming.

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'audit-tail-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const record = (model: string) =>
  `${JSON.stringify({ model, model_version: '1', response: { status: 200 }, route: { name: 'r' } })}\n`;

/** Follows `file` while `steps` run; each step waits until the lines shown number `count`. */
async function follow(
  file: string,
  steps: { write: () => Promise<void>; count: number }[],
): Promise<AuditLine[]> {
  const shown: AuditLine[] = [];
  const abort = new AbortController();
  const following = followAuditLog(file, (line) => shown.push(line), abort.signal, 5);
  try {
    for (const step of steps) {
      await new Promise((resolve) => setTimeout(resolve, 30)); // the follower has seen what came before
      await step.write();
      const deadline = Date.now() + 5_000;
      while (shown.length < step.count && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 5));
    }
  } finally {
    abort.abort();
    await following;
  }
  return shown;
}

describe('followAuditLog', () => {
  it('shows the lines written after it started, a line that arrives in parts once and whole', async () => {
    const file = join(dir, 'parts.log');
    await writeFile(file, record('before'));
    const line = Buffer.from(record('klassifizierer-ü'));
    const split = line.indexOf(0xbc); // the second byte of ü: the first part ends inside the character
    const shown = await follow(file, [
      { write: () => appendFile(file, record('first')), count: 1 },
      { write: () => appendFile(file, line.subarray(0, split)), count: 1 },
      { write: () => appendFile(file, line.subarray(split)), count: 2 },
    ]);
    expect(shown.map((each) => each.model)).toEqual(['first', 'klassifizierer-ü']);
  });

  it('starts over when the file is truncated, without the part of a line it had read before', async () => {
    const file = join(dir, 'truncated.log');
    await writeFile(file, '');
    const shown = await follow(file, [
      // a complete line, and the start of one the truncation cuts off
      { write: () => appendFile(file, `${record('one')}{"model":"tw`), count: 1 },
      {
        write: async () => {
          await new Promise((resolve) => setTimeout(resolve, 30)); // the part is read
          await truncate(file, 0);
          await new Promise((resolve) => setTimeout(resolve, 30)); // seen empty
          await appendFile(file, record('three'));
        },
        count: 2,
      },
    ]);
    expect(shown.map((each) => each.model)).toEqual(['one', 'three']);
  });

  it('goes on to the new file when the log is rotated by renaming, after the rest of the old one', async () => {
    const file = join(dir, 'rotated.log');
    await writeFile(file, '');
    const shown = await follow(file, [
      { write: () => appendFile(file, record('old')), count: 1 },
      {
        write: async () => {
          await appendFile(file, record('last of old'));
          await rename(file, `${file}.1`);
          await writeFile(file, record('new'));
        },
        count: 3,
      },
    ]);
    expect(shown.map((each) => each.model)).toEqual(['old', 'last of old', 'new']);
  });
});
