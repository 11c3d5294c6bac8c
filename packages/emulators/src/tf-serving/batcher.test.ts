import { create } from '@bufbuild/protobuf';
import { status } from '@grpc/grpc-js';
import { BatchingParametersSchema, DataType, type Tensor } from '@modelgate/proto';
import { afterEach, describe, expect, it } from 'vitest';
import { Batcher, type BatchingOptions, batchingOptionsFrom, DEFAULT_BATCHING_OPTIONS } from './batcher.js';
import { recordingServable } from './testing/recording-servable.js';

const rows = (values: number[][]): Tensor => ({
  dtype: DataType.DT_FLOAT,
  shape: [values.length, values[0]?.length ?? 0],
  values: Float32Array.from(values.flat()),
});

let batcher: Batcher | undefined;
afterEach(async () => {
  await batcher?.close();
  batcher = undefined;
});

function start(options: Partial<BatchingOptions>): Batcher {
  batcher = new Batcher({ ...DEFAULT_BATCHING_OPTIONS, ...options });
  return batcher;
}

describe('server-side batching', () => {
  it('runs concurrent batch-1 requests as one batch and routes each its own rows', async () => {
    const servable = recordingServable();
    const b = start({ maxBatchSize: 32, batchTimeoutMicros: 5_000 });
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        b.submit('q', servable, 'serving_default', { x: rows([[i, -i]]) }, ['x_doubled']),
      ),
    );
    expect(servable.runs).toHaveLength(1);
    expect(servable.runs[0]?.inputs.x?.shape).toEqual([10, 2]);
    answers.forEach((answer, i) => {
      expect(answer.x_doubled).toEqual(rows([[2 * i, -2 * i]]));
    });
  });

  it('keeps requests of different sizes apart in the answers', async () => {
    const servable = recordingServable();
    const b = start({ maxBatchSize: 32, batchTimeoutMicros: 5_000 });
    const [one, three] = await Promise.all([
      b.submit('q', servable, 's', { x: rows([[1]]) }, ['x_doubled']),
      b.submit('q', servable, 's', { x: rows([[2], [3], [4]]) }, ['x_doubled']),
    ]);
    expect(servable.runs).toHaveLength(1);
    expect(one?.x_doubled).toEqual(rows([[2]]));
    expect(three?.x_doubled).toEqual(rows([[4], [6], [8]]));
  });

  it('never puts more than max_batch_size rows in one run', async () => {
    const servable = recordingServable();
    const b = start({ maxBatchSize: 4, batchTimeoutMicros: 5_000 });
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => b.submit('q', servable, 's', { x: rows([[i]]) }, ['x_doubled'])),
    );
    expect(servable.runs.map((run) => run.inputs.x?.shape[0])).toEqual([4, 4, 2]);
  });

  it('runs a batch that is not full once batch_timeout_micros has passed', async () => {
    const servable = recordingServable();
    const b = start({ maxBatchSize: 100, batchTimeoutMicros: 30_000 });
    const started = performance.now();
    await b.submit('q', servable, 's', { x: rows([[1]]) }, ['x_doubled']);
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
    expect(servable.runs).toHaveLength(1);
  });

  it('keeps different queues (versions, signatures, aliases) in different batches', async () => {
    const servable = recordingServable();
    const b = start({ maxBatchSize: 32, batchTimeoutMicros: 5_000 });
    await Promise.all([
      b.submit('v1', servable, 's', { x: rows([[1]]) }, ['x_doubled']),
      b.submit('v2', servable, 's', { x: rows([[1]]) }, ['x_doubled']),
    ]);
    expect(servable.runs).toHaveLength(2);
  });

  it('runs at most num_batch_threads batches at once', async () => {
    const servable = recordingServable({ delayMs: 20 });
    const b = start({ maxBatchSize: 1, numBatchThreads: 2, maxEnqueuedBatches: 100 });
    let active = 0;
    let peak = 0;
    const run = servable.run.bind(servable);
    servable.run = async (...args) => {
      peak = Math.max(peak, ++active);
      try {
        return await run(...args);
      } finally {
        active--;
      }
    };
    await Promise.all(
      Array.from({ length: 6 }, () => b.submit('q', servable, 's', { x: rows([[1]]) }, ['x_doubled'])),
    );
    expect(peak).toBe(2);
  });

  it('pads a batch to the next allowed batch size with copies of the first row, and drops the padding', async () => {
    const servable = recordingServable();
    const b = start({ maxBatchSize: 8, allowedBatchSizes: [2, 4, 8], batchTimeoutMicros: 5_000 });
    const answers = await Promise.all(
      [5, 6, 7].map((v) => b.submit('q', servable, 's', { x: rows([[v]]) }, ['x_doubled'])),
    );
    expect(servable.runs[0]?.inputs.x).toEqual(rows([[5], [6], [7], [7]]));
    expect(answers.map((a) => a.x_doubled?.values)).toEqual([
      Float32Array.of(10),
      Float32Array.of(12),
      Float32Array.of(14),
    ]);
  });

  it('refuses a request larger than max_batch_size', async () => {
    const b = start({ maxBatchSize: 2 });
    await expect(
      b.submit('q', recordingServable(), 's', { x: rows([[1], [2], [3]]) }, []),
    ).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      message: 'Task size 3 is larger than maximum input batch size 2',
    });
  });

  it('refuses a request when the queue already holds max_enqueued_batches batches', async () => {
    const servable = recordingServable({ delayMs: 50 });
    const b = start({
      maxBatchSize: 1,
      maxEnqueuedBatches: 2,
      numBatchThreads: 1,
      batchTimeoutMicros: 1_000_000,
    });
    const first = b.submit('q', servable, 's', { x: rows([[1]]) }, ['x_doubled']);
    const second = b.submit('q', servable, 's', { x: rows([[2]]) }, ['x_doubled']);
    await expect(b.submit('q', servable, 's', { x: rows([[3]]) }, ['x_doubled'])).rejects.toMatchObject({
      code: status.UNAVAILABLE,
      message:
        'The batch scheduling queue to which this task was submitted is full; currently 2 batches enqueued and max_enqueued_batches is 2',
    });
    await Promise.all([first, second]);
  });

  it.each([
    [{}, 'Batching Run() must have at least one input tensor'],
    [
      { x: { dtype: DataType.DT_FLOAT, shape: [], values: Float32Array.of(1) } as Tensor },
      'Batching Run() input tensors must have at least one dimension',
    ],
    [
      { x: rows([[1]]), y: rows([[1], [2]]) },
      'Batching Run() input tensors must have equal 0th-dimension size',
    ],
  ])('refuses inputs it cannot batch: %s', async (inputs, message) => {
    await expect(start({}).submit('q', recordingServable(), 's', inputs, [])).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      message,
    });
  });

  it('fails every request of a batch whose rows differ in shape, as padding is off', async () => {
    const b = start({ maxBatchSize: 8, batchTimeoutMicros: 5_000 });
    const servable = recordingServable();
    const results = await Promise.allSettled([
      b.submit('q', servable, 's', { x: rows([[1, 2]]) }, ['x_doubled']),
      b.submit('q', servable, 's', { x: rows([[1, 2, 3]]) }, ['x_doubled']),
    ]);
    for (const result of results) {
      expect(result).toMatchObject({
        status: 'rejected',
        reason: {
          code: status.FAILED_PRECONDITION,
          message:
            "Tensors with name 'x' from different tasks have different shapes and padding is turned off. Set pad_variable_length_inputs to true, or ensure that all tensors with the same name have equal dimensions starting with the first dim.",
        },
      });
    }
  });

  it('runs what is queued at once when closing, then refuses new requests', async () => {
    const servable = recordingServable();
    const b = start({ maxBatchSize: 100, batchTimeoutMicros: 60_000_000 });
    const pending = b.submit('q', servable, 's', { x: rows([[1]]) }, ['x_doubled']);
    await b.close();
    await expect(pending).resolves.toEqual({ x_doubled: rows([[2]]) });
    await expect(b.submit('q', servable, 's', { x: rows([[1]]) }, [])).rejects.toMatchObject({
      code: status.UNAVAILABLE,
    });
  });
});

describe('batching parameters', () => {
  it("defaults to SharedBatchScheduler's: 1000 rows, no timeout, 10 batches", () => {
    expect(batchingOptionsFrom(undefined, () => {})).toMatchObject({
      maxBatchSize: 1000,
      batchTimeoutMicros: 0,
      maxEnqueuedBatches: 10,
      allowedBatchSizes: [],
    });
  });

  it("reads the file's values", () => {
    const parameters = create(BatchingParametersSchema, {
      maxBatchSize: 32n,
      batchTimeoutMicros: 1000n,
      maxEnqueuedBatches: 4n,
      numBatchThreads: 3n,
      allowedBatchSizes: [8n, 32n],
    });
    expect(batchingOptionsFrom(parameters, () => {})).toEqual({
      maxBatchSize: 32,
      batchTimeoutMicros: 1000,
      maxEnqueuedBatches: 4,
      numBatchThreads: 3,
      allowedBatchSizes: [8, 32],
    });
  });

  it('refuses allowed_batch_sizes whose last entry is not max_batch_size', () => {
    const parameters = create(BatchingParametersSchema, { maxBatchSize: 32n, allowedBatchSizes: [8n, 16n] });
    expect(() => batchingOptionsFrom(parameters, () => {})).toThrow(
      'Last entry in allowed_batch_sizes must match max_batch_size; last entry was 16; expected 32',
    );
  });

  it('warns about the parameters it does not implement', () => {
    const warnings: string[] = [];
    batchingOptionsFrom(
      create(BatchingParametersSchema, { padVariableLengthInputs: true, enableLargeBatchSplitting: true }),
      (w) => warnings.push(w),
    );
    expect(warnings).toHaveLength(2);
  });
});
