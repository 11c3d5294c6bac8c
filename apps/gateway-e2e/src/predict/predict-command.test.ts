import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningStack, startEmulatorStack, writeStackDescription } from '@modelgate/stack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPredict } from './predict-command.js';

let dir: string;
let stack: RunningStack;
let file: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'modelgate-predict-'));
  stack = await startEmulatorStack();
  file = join(dir, 'stack.json');
  await writeStackDescription(file, stack.description);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function predict(options: Partial<Parameters<typeof runPredict>[0]>) {
  let out = '';
  const code = await runPredict(
    { stack: file, model: 'classifier', batch: 1, direct: false, ...options },
    (text) => {
      out += text;
    },
  );
  return { code, out };
}

describe('modelgate predict', () => {
  it('calls Predict through the gateway as the first client allowed the model, and prints the outputs', async () => {
    const { code, out } = await predict({ model: 'classifier', batch: 3, version: 1 });
    expect(code).toBe(0);
    expect(out).toMatch(
      /^classifier v1 via the gateway as ops-console \(127\.0\.0\.1:\d+\), batch 3, [\d.]+ ms\n/,
    );
    expect(out).toMatch(/ {2}probabilities {2}DT_FLOAT \[3, 3\] {2}\[[-\d., e]+more\]\n/);
  });

  it('shows a refusal with its gRPC status and exits 3', async () => {
    const { code, out } = await predict({ model: 'convnet', client: 'classifier-app' });
    expect(code).toBe(3);
    expect(out).toBe('refused: gRPC status 7 You cannot consume this model\n');
  });

  it('names what is missing: a model the stack does not serve', async () => {
    await expect(predict({ model: 'resnet' })).rejects.toThrow(
      'the stack serves no model resnet (it has: half_plus_two, classifier, convnet)',
    );
  });
});
