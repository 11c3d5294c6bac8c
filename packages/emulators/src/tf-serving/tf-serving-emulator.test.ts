import { create } from '@bufbuild/protobuf';
import { status } from '@grpc/grpc-js';
import { buildModel, goldenInputs, predictRequest, withinTolerance } from '@modelgate/fixtures';
import { DEFAULT_POLICY } from '@modelgate/policy';
import {
  BatchingParametersSchema,
  createPromiseClient,
  DataType,
  decodeTensor,
  encodeTensor,
  MonitoringConfigSchema,
  PredictionService,
  type Tensor,
} from '@modelgate/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../testing/eventually.js';
import type { ModelRunner } from './model-runner.js';
import { createModelRunner } from './model-runner-factory.js';
import { countingRunner } from './testing/counting-runner.js';
import { type ModelRepository, modelRepository } from './testing/model-repository.js';
import { serveFixtures } from './testing/served-fixtures.js';
import { TfServingEmulator } from './tf-serving-emulator.js';

let runner: ModelRunner;
let repo: ModelRepository;

beforeAll(async () => {
  runner = await createModelRunner({ prefer: 'wasm' });
  repo = await modelRepository([{ name: 'half_plus_two', graph: 'half_plus_two', version: 1 }]);
});
afterAll(() => repo.remove());

function emulator(options: ConstructorParameters<typeof TfServingEmulator>[0] = {}) {
  const lines: string[] = [];
  const instance = new TfServingEmulator({
    pickFreeGrpcPort: true,
    modelName: 'half_plus_two',
    modelBasePath: repo.basePath('half_plus_two'),
    runner,
    log: (line) => lines.push(line),
    ...options,
  });
  return { instance, lines };
}

describe('TfServingEmulator from code', () => {
  it('picks free ports when asked from code and logs the real ready lines with them, gRPC first', async () => {
    const { instance, lines } = emulator({ pickFreeRestPort: true });
    const { grpcPort, restPort } = await instance.start();
    try {
      expect(grpcPort).toBeGreaterThan(0);
      expect(restPort).toBeGreaterThan(0);
      const ready = lines.filter((line) => /Running gRPC ModelServer|Exporting HTTP\/REST API/.test(line));
      expect(ready).toHaveLength(2);
      expect(ready[0]).toMatch(
        new RegExp(
          `^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{6}: I tensorflow_serving/model_servers/server\\.cc:\\d+\\] Running gRPC ModelServer at 0\\.0\\.0\\.0:${grpcPort} \\.\\.\\.$`,
        ),
      );
      expect(ready[1]).toMatch(new RegExp(`\\] Exporting HTTP/REST API at:localhost:${restPort} \\.\\.\\.$`));
      expect(lines.findIndex((l) => l.includes('Successfully loaded servable version'))).toBeLessThan(
        lines.indexOf(ready[0] as string),
      );
    } finally {
      await instance.stop();
    }
  });

  it.each([{}, { restApiPort: 0 }])(
    'leaves REST off with %o, as --rest_api_port=0 means',
    async (options) => {
      const { instance, lines } = emulator(options);
      expect((await instance.start()).restPort).toBeUndefined();
      await instance.stop();
      expect(lines.some((line) => line.includes('Exporting HTTP/REST API'))).toBe(false);
    },
  );

  it('refuses port 0 as the real server does, before loading any model', async () => {
    const { instance, lines } = emulator({ pickFreeGrpcPort: false, port: 0 });
    await expect(instance.start()).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      message: 'At least one of server_options.grpc_port or server_options.grpc_socket_path must be set.',
    });
    expect(lines.some((line) => line.includes('Loading servable version'))).toBe(false);
  });

  it('skips REST on the gRPC port, with the real error line', async () => {
    const probe = emulator();
    const { grpcPort } = await probe.instance.start();
    await probe.instance.stop();
    const { instance, lines } = emulator({ pickFreeGrpcPort: false, port: grpcPort, restApiPort: grpcPort });
    try {
      expect((await instance.start()).restPort).toBeUndefined();
      expect(lines.some((line) => line.endsWith('Skipped exporting HTTP/REST API.'))).toBe(true);
    } finally {
      await instance.stop();
    }
  });

  it.each([
    [
      { modelBasePath: '' },
      'Both server_options.model_base_path and server_options.model_config_file are empty!',
    ],
    [
      { batchingParameters: create(BatchingParametersSchema, {}) },
      'server_options.batching_parameters_file is set without setting server_options.enable_batching to true.',
    ],
    [
      { modelBasePath: 'relative/path' },
      'Expected model half_plus_two to have an absolute path or URI; got base_path()=relative/path',
    ],
  ])('refuses to start with %o', async (options, message) => {
    await expect(emulator(options).instance.start()).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      message,
    });
  });

  it('finishes in-flight requests when stopped, then refuses new calls', async () => {
    const slow = countingRunner(runner, { delayMs: 150 });
    const { instance } = emulator({ runner: slow });
    const { grpcPort } = await instance.start();
    const client = createPromiseClient(PredictionService, `localhost:${grpcPort}`);
    try {
      await client.predict(predictRequest(DEFAULT_POLICY, { model: 'half_plus_two' }));
      const inFlight = client.predict(
        predictRequest(DEFAULT_POLICY, { model: 'half_plus_two' }, { batchSize: 3 }),
      );
      await slow.started(2); // the second run sleeps 150 ms: stop() comes while it is in flight
      expect(slow.batchSizes).toEqual([1, 3]);
      await Promise.all([
        instance.stop(),
        expect(inFlight).resolves.toMatchObject({ modelSpec: { name: 'half_plus_two' } }),
      ]);
      await expect(
        client.predict(predictRequest(DEFAULT_POLICY, { model: 'half_plus_two' }), { timeoutMs: 1000 }),
      ).rejects.toMatchObject({ code: status.UNAVAILABLE });
    } finally {
      client.close();
    }
  });
});

describe('run timeouts', () => {
  it('answers REST 504 DEADLINE_EXCEEDED past --rest_api_timeout_in_ms, as DirectSession times out', async () => {
    const slow = countingRunner(runner, { delayMs: 400 });
    const { instance } = emulator({ runner: slow, pickFreeRestPort: true, restApiTimeoutInMs: 50 });
    const { restPort } = await instance.start();
    try {
      const response = await fetch(`http://127.0.0.1:${restPort}/v1/models/half_plus_two:predict`, {
        method: 'POST',
        body: '{"instances": [1]}',
      });
      expect({ status: response.status, body: await response.text() }).toEqual({
        status: 504,
        body: '{\n    "error": "Timed out waiting for notification"\n}',
      });
    } finally {
      await instance.stop();
    }
  });

  it('ends a gRPC run at the client deadline and counts it as DEADLINE_EXCEEDED', async () => {
    const slow = countingRunner(runner, { delayMs: 400 });
    const { instance } = emulator({
      runner: slow,
      pickFreeRestPort: true,
      monitoringConfig: create(MonitoringConfigSchema, { prometheusConfig: { enable: true } }),
    });
    const { grpcPort, restPort } = await instance.start();
    const client = createPromiseClient(PredictionService, `localhost:${grpcPort}`);
    try {
      // connected first, so the 50 ms deadline is spent on the server and not on a slow connect
      await client.waitForReady(new Date(Date.now() + 10_000));
      await expect(
        client.predict(predictRequest(DEFAULT_POLICY, { model: 'half_plus_two' }), { timeoutMs: 50 }),
      ).rejects.toMatchObject({ code: status.DEADLINE_EXCEEDED });
      const counted =
        ':tensorflow:serving:request_count{model_name="half_plus_two",status="DEADLINE_EXCEEDED"} 1';
      const page = () =>
        fetch(`http://127.0.0.1:${restPort}/monitoring/prometheus/metrics`).then((r) => r.text());
      await eventually(async () => (await page()).includes(counted));
    } finally {
      client.close();
      await instance.stop();
    }
  });
});

describe('server-side batching through gRPC', () => {
  it('runs 16 concurrent batch-1 requests as fewer runs, each answer its own', async () => {
    const counting = countingRunner(runner);
    const served = await serveFixtures(counting, {
      pickFreeRestPort: false,
      enableBatching: true,
      batchingParameters: create(BatchingParametersSchema, {
        maxBatchSize: 8n,
        batchTimeoutMicros: 20_000n,
        numBatchThreads: 2n,
      }),
    });
    const client = createPromiseClient(PredictionService, `localhost:${served.grpcPort}`);
    try {
      counting.batchSizes.length = 0;
      const inputs = goldenInputs('classifier', 16).x as Tensor;
      const row = (i: number): Tensor => ({
        dtype: DataType.DT_FLOAT,
        shape: [1, 4],
        values: (inputs.values as Float32Array).slice(4 * i, 4 * i + 4),
      });
      const answers = await Promise.all(
        Array.from({ length: 16 }, (_, i) =>
          client.predict({ modelSpec: { name: 'classifier' }, inputs: { x: encodeTensor(row(i)) } }),
        ),
      );
      expect(counting.batchSizes.length).toBeLessThan(16);
      expect(counting.batchSizes.every((size) => size <= 8)).toBe(true);
      expect(counting.batchSizes.reduce((a, b) => a + b, 0)).toBe(16);
      const expected = buildModel('classifier', 2).evaluate({ x: inputs }).probabilities as Tensor;
      answers.forEach((answer, i) => {
        const actual = decodeTensor(answer.outputs.probabilities as never).values as Float32Array;
        const want = (expected.values as Float32Array).slice(3 * i, 3 * i + 3);
        expect(withinTolerance(actual, want).ok, `request ${i}`).toBe(true);
      });
    } finally {
      client.close();
      await served.stop();
    }
  });

  it('refuses a request larger than max_batch_size with the scheduler message', async () => {
    const served = await serveFixtures(runner, {
      pickFreeRestPort: false,
      enableBatching: true,
      batchingParameters: create(BatchingParametersSchema, { maxBatchSize: 2n }),
    });
    const client = createPromiseClient(PredictionService, `localhost:${served.grpcPort}`);
    try {
      await expect(
        client.predict(predictRequest(DEFAULT_POLICY, { model: 'classifier' }, { batchSize: 3 })),
      ).rejects.toMatchObject({
        code: status.INVALID_ARGUMENT,
        details: 'Task size 3 is larger than maximum input batch size 2',
      });
    } finally {
      client.close();
      await served.stop();
    }
  });
});
