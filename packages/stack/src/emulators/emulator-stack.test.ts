import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createPromiseClient,
  DataType,
  decodeTensor,
  encodeTensor,
  GrpcError,
  PredictionService,
  type Tensor,
} from '@modelgate/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningStack } from '../running-stack.js';
import { parseStackDescription } from '../stack-description.js';
import { StackStartError } from '../stack-start-error.js';
import { TokenPool } from '../token-pool.js';
import { startEmulatorStack } from './emulator-stack.js';

// The emulators provider started for real: three processes from one policy, a REST and a gRPC prediction
// through the gateway with tokens the issuer minted, the audit lines they left, and a teardown that leaves no
// process and no folder behind.

let stack: RunningStack;
let pool: TokenPool;
const progress: string[] = [];

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

beforeAll(async () => {
  stack = await startEmulatorStack({
    onProgress: (event) => progress.push(`${event.service} ${event.state}`),
  });
  const { description } = stack;
  pool = new TokenPool({
    tokenEndpoint: description.issuer.tokenUrl,
    clients: description.clients.map((client) => ({
      clientId: client.id,
      clientSecret: client.secret as string,
    })),
  });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

async function auditLines(): Promise<Record<string, unknown>[]> {
  const { auditLog } = stack.description;
  if (auditLog.kind !== 'file') throw new Error('the emulators write the audit log to a file');
  const text = await readFile(auditLog.path, 'utf8');
  // complete lines only: a batch being appended may show its last line in part
  return text
    .slice(0, text.lastIndexOf('\n') + 1)
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function auditLineFor(correlationId: string): Promise<Record<string, unknown>> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const line = (await auditLines()).find((record) => record.correlation_id === correlationId);
    if (line) return line;
    await sleep(100);
  }
  throw new Error(`no audit line with correlation id ${correlationId}`);
}

describe('the emulators provider', () => {
  it('reports each service starting and ready, and describes the stack in the stack file format', () => {
    for (const service of ['keycloak', 'tf-serving', 'kong']) {
      expect(progress).toContain(`${service} starting`);
      expect(progress).toContain(`${service} ready`);
    }
    const { description } = stack;
    expect(parseStackDescription(description)).toEqual(description);
    expect(description.provider).toBe('emulators');
    expect(description.models.map((model) => [model.name, model.servedVersions, model.golden])).toEqual([
      ['half_plus_two', [1], true],
      ['classifier', [2, 1], true],
      ['convnet', [1], true],
    ]);
    expect(stack.processes.map((child) => child.service)).toEqual(['keycloak', 'tf-serving', 'kong']);
  });

  it('answers a REST prediction through the gateway with a minted token, and logs it', async () => {
    const { gateway } = stack.description;
    const response = await pool.withToken('ops-console', (token) =>
      fetch(`${gateway.http}/v1/models/half_plus_two:predict`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: '{"instances":[1.0,2.0,5.0]}',
      }),
    );
    expect(response.status).toBe(200);
    expect(JSON.parse(await response.text())).toEqual({ predictions: [2.5, 3.0, 4.5] });
    const line = await auditLineFor(response.headers.get('kong-request-id') as string);
    expect(line).toMatchObject({
      consumer: { username: 'ops-console' },
      model: 'half_plus_two',
      model_version: 'latest',
      response: { status: 200 },
    });
    expect(JSON.stringify(line)).not.toMatch(/Bearer /);
  });

  it('answers a gRPC Predict through the gateway, and refuses a model the client may not call', async () => {
    const { gateway } = stack.description;
    const token = await pool.token('classifier-app');
    const client = createPromiseClient(PredictionService, gateway.grpc, { bearerToken: token });
    try {
      const x: Tensor = {
        dtype: DataType.DT_FLOAT,
        shape: [1, 4],
        values: Float32Array.of(0.1, 0.2, 0.3, 0.4),
      };
      const response = await client.predict({
        modelSpec: { name: 'classifier' },
        inputs: { x: encodeTensor(x) },
      });
      const probabilities = decodeTensor(response.outputs.probabilities ?? expect.unreachable());
      expect(probabilities.shape).toEqual([1, 3]);
      const sum = Array.from(probabilities.values as Float32Array).reduce((a, b) => a + b, 0);
      expect(sum).toBeCloseTo(1, 5);
      const refused = await client
        .predict({ modelSpec: { name: 'convnet' }, inputs: { x: encodeTensor(x) } })
        .catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(GrpcError);
      expect(refused).toMatchObject({ code: 7, details: 'You cannot consume this model' });
    } finally {
      client.close();
    }
    // file-log writes through a queue: the refusal's line may land a moment after the answer
    let lines = await auditLines();
    for (let attempt = 0; attempt < 50 && !lines.some((line) => line.model === 'convnet'); attempt++) {
      await sleep(100);
      lines = await auditLines();
    }
    expect(
      lines.some((line) => line.model === 'convnet' && (line.response as { status: number }).status === 403),
    ).toBe(true);
  });

  it('stops one service and starts it again on the same ports, the others untouched', async () => {
    const { modelServer } = stack.description;
    const before = stack.processes.find((child) => child.service === 'tf-serving')?.pid as number;
    await stack.control?.stopService('tf-serving');
    expect(alive(before)).toBe(false);
    await expect(fetch(`${modelServer.rest}/v1/models/half_plus_two`)).rejects.toThrow();
    await stack.control?.startService('tf-serving');
    const after = stack.processes.find((child) => child.service === 'tf-serving')?.pid as number;
    expect(after).not.toBe(before);
    expect((await fetch(`${modelServer.rest}/v1/models/half_plus_two`)).status).toBe(200);
    await expect(stack.control?.stopService('nginx')).rejects.toThrow(
      'no service nginx (known: keycloak, tf-serving, kong)',
    );
  });

  it('tears down: every process gone and its folder removed, and a second stop is a no-op', async () => {
    const { auditLog } = stack.description;
    const pids = stack.processes.map((child) => child.pid);
    expect(pids.every(alive)).toBe(true);
    await stack.stop();
    expect(pids.filter(alive)).toEqual([]);
    expect(auditLog.kind === 'file' && existsSync(auditLog.path)).toBe(false);
    await stack.stop();
  });
});

describe('the gateway variants (no plugins, jwt alone)', () => {
  it('serve the same models beside the full policy: no token needed, then a token and no per-model check', async () => {
    const variants = await startEmulatorStack({ gatewayVariants: true });
    try {
      const { gateway, issuer, clients } = variants.description;
      expect(variants.processes.map((child) => child.service).sort()).toEqual([
        'keycloak',
        'kong',
        'kong-jwt',
        'kong-no-auth',
        'tf-serving',
      ]);
      const body = '{"instances":[1.0]}';
      const post = (base: string, token?: string) =>
        fetch(`${base}/v1/models/half_plus_two:predict`, {
          method: 'POST',
          headers: token ? { authorization: `Bearer ${token}` } : {},
          body,
        });
      expect((await post(gateway.variants?.noAuth.http as string)).status).toBe(200);
      expect((await post(gateway.variants?.jwt.http as string)).status).toBe(401);
      const client = clients.find((candidate) => candidate.id === 'classifier-app');
      const pool = new TokenPool({
        tokenEndpoint: issuer.tokenUrl,
        clients: [{ clientId: 'classifier-app', clientSecret: client?.secret as string }],
      });
      const token = await pool.token('classifier-app');
      // classifier-app may not call half_plus_two: the full policy refuses, jwt alone lets it through
      expect((await post(gateway.http, token)).status).toBe(403);
      expect((await post(gateway.variants?.jwt.http as string, token)).status).toBe(200);
    } finally {
      await variants.stop();
    }
  }, 120_000);
});

describe('a failed start', () => {
  it('names the service that failed with the tail of its log, and leaves nothing running', async () => {
    const error = await startEmulatorStack({
      env: { MODELGATE_TFJS_BACKEND: 'no-such-backend' },
      readyTimeoutMs: 30_000,
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(StackStartError);
    const failure = error as StackStartError;
    expect(failure.service).toBe('tf-serving');
    expect(failure.message).toMatch(
      /^tf-serving failed to start: tf-serving exited with code \d+ before it was stopped/,
    );
    expect(failure.logTail.join('\n')).toContain('no-such-backend');
    // the two that had started were stopped: no emulator is left among this process's children
    const children = execFileSync('ps', ['--ppid', String(process.pid), '-o', 'args='], { encoding: 'utf8' });
    expect(children).not.toMatch(/emulators\/dist/);
  }, 60_000);
});
