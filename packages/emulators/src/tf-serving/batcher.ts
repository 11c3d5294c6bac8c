import { availableParallelism } from 'node:os';
import type { BatchingParameters, Tensor } from '@modelgate/proto';
import { concatRows, repeatFirstRow, sameRowShape, sliceRows } from './batch-tensors.js';
import type { LoadedServable } from './model-runner.js';
import { asTfServingError, TfServingError } from './tf-serving-error.js';

/** The batching scheduler's settings (BatchingParameters; defaults from SharedBatchScheduler). */
export interface BatchingOptions {
  maxBatchSize: number;
  batchTimeoutMicros: number;
  maxEnqueuedBatches: number;
  numBatchThreads: number;
  /** Batches are padded up to the smallest of these that fits; empty: no padding. */
  allowedBatchSizes: number[];
}

export const DEFAULT_BATCHING_OPTIONS: Readonly<BatchingOptions> = Object.freeze({
  maxBatchSize: 1000,
  batchTimeoutMicros: 0,
  maxEnqueuedBatches: 10,
  numBatchThreads: availableParallelism(),
  allowedBatchSizes: [],
});

/** BatchingParameters (--batching_parameters_file) as options, with the real server's checks. */
export function batchingOptionsFrom(
  parameters: BatchingParameters | undefined,
  warn: (message: string) => void,
): BatchingOptions {
  const options = { ...DEFAULT_BATCHING_OPTIONS, allowedBatchSizes: [] as number[] };
  if (!parameters) return options;
  if (parameters.maxBatchSize !== undefined) options.maxBatchSize = Number(parameters.maxBatchSize);
  if (parameters.batchTimeoutMicros !== undefined)
    options.batchTimeoutMicros = Number(parameters.batchTimeoutMicros);
  if (parameters.maxEnqueuedBatches !== undefined)
    options.maxEnqueuedBatches = Number(parameters.maxEnqueuedBatches);
  if (parameters.numBatchThreads !== undefined) options.numBatchThreads = Number(parameters.numBatchThreads);
  options.allowedBatchSizes = parameters.allowedBatchSizes.map(Number);
  const last = options.allowedBatchSizes.at(-1);
  if (last !== undefined && last !== options.maxBatchSize) {
    throw TfServingError.invalidArgument(
      `Last entry in allowed_batch_sizes must match max_batch_size; last entry was ${last}; expected ${options.maxBatchSize}`,
    );
  }
  if (parameters.padVariableLengthInputs) {
    warn(
      'pad_variable_length_inputs is not implemented by the emulator; requests must share their row shapes',
    );
  }
  if (parameters.enableLargeBatchSplitting) {
    warn('enable_large_batch_splitting is not implemented by the emulator; larger requests are refused');
  }
  return options;
}

interface Task {
  inputs: Readonly<Record<string, Tensor>>;
  size: number;
  resolve(outputs: Record<string, Tensor>): void;
  reject(error: unknown): void;
}

interface Batch {
  tasks: Task[];
  size: number;
  /** performance.now() of the first task. */
  openedAt: number;
  closed: boolean;
}

/** One queue per servable version, signature and input/output alias set, as BatchingSession keys them. */
interface Queue {
  servable: LoadedServable;
  signatureKey: string;
  outputAliases: readonly string[];
  batches: Batch[];
}

/** The requests's batch size: the shared dim 0 of its inputs (batching/batching_util.h). */
function taskSize(inputs: Readonly<Record<string, Tensor>>): number {
  const tensors = Object.values(inputs);
  if (tensors.length === 0)
    throw TfServingError.invalidArgument('Batching Run() must have at least one input tensor');
  let size: number | undefined;
  for (const tensor of tensors) {
    const rows = tensor.shape[0];
    if (rows === undefined) {
      throw TfServingError.invalidArgument('Batching Run() input tensors must have at least one dimension');
    }
    if (size !== undefined && rows !== size) {
      throw TfServingError.invalidArgument('Batching Run() input tensors must have equal 0th-dimension size');
    }
    size = rows;
  }
  return size as number;
}

const emptyBatch = (): Batch => ({ tasks: [], size: 0, openedAt: 0, closed: false });

/**
 * Server-side batching (--enable_batching): requests for the same version, signature and aliases wait in a
 * queue, are concatenated along dim 0 up to max_batch_size, run as one batch when the batch is full or
 * batch_timeout_micros after its first request, and the outputs are split back to each request. At most
 * num_batch_threads batches run at once (shared by every queue), and a queue holds at most
 * max_enqueued_batches batches. Refusals carry SharedBatchScheduler's messages.
 */
export class Batcher {
  private readonly queues = new Map<string, Queue>();
  private running = 0;
  private timer: NodeJS.Timeout | undefined;
  private scheduled = false;
  private closed = false;
  private readonly idle: (() => void)[] = [];

  constructor(readonly options: BatchingOptions) {}

  /** Queues a request and answers its outputs once its batch has run. `queueKey` names version, signature and aliases. */
  submit(
    queueKey: string,
    servable: LoadedServable,
    signatureKey: string,
    inputs: Readonly<Record<string, Tensor>>,
    outputAliases: readonly string[],
  ): Promise<Record<string, Tensor>> {
    if (this.closed)
      return Promise.reject(TfServingError.unavailable('The batch scheduler is shutting down'));
    let size: number;
    try {
      size = taskSize(inputs);
    } catch (error) {
      return Promise.reject(error);
    }
    const { maxBatchSize, maxEnqueuedBatches } = this.options;
    if (size > maxBatchSize) {
      return Promise.reject(
        TfServingError.invalidArgument(
          `Task size ${size} is larger than maximum input batch size ${maxBatchSize}`,
        ),
      );
    }
    const queue = this.queueFor(queueKey, servable, signatureKey, outputAliases);
    let open = queue.batches.at(-1) as Batch;
    if (open.size + size > maxBatchSize) {
      if (queue.batches.length >= maxEnqueuedBatches) {
        return Promise.reject(
          TfServingError.unavailable(
            `The batch scheduling queue to which this task was submitted is full; currently ${queue.batches.length} batches enqueued and max_enqueued_batches is ${maxEnqueuedBatches}`,
          ),
        );
      }
      open.closed = true;
      open = emptyBatch();
      queue.batches.push(open);
    }
    return new Promise((resolve, reject) => {
      if (open.tasks.length === 0) open.openedAt = performance.now();
      open.tasks.push({ inputs, size, resolve, reject });
      open.size += size;
      this.schedule();
    });
  }

  private queueFor(
    key: string,
    servable: LoadedServable,
    signatureKey: string,
    outputAliases: readonly string[],
  ): Queue {
    let queue = this.queues.get(key);
    if (!queue) {
      queue = { servable, signatureKey, outputAliases, batches: [emptyBatch()] };
      this.queues.set(key, queue);
    }
    return queue;
  }

  /** Runs the scheduling pass on the next turn of the event loop, so that requests arriving together merge. */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.dispatch();
    });
  }

  private dispatch(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    let nextDeadline = Number.POSITIVE_INFINITY;
    const timeoutMs = this.options.batchTimeoutMicros / 1000;
    for (const queue of this.queues.values()) {
      while (this.running < this.options.numBatchThreads) {
        const batch = this.takeSchedulable(queue, timeoutMs);
        if (!batch) break;
        this.running++;
        void this.process(queue, batch);
      }
      const open = queue.batches.at(-1);
      if (open && open.tasks.length > 0) nextDeadline = Math.min(nextDeadline, open.openedAt + timeoutMs);
    }
    if (Number.isFinite(nextDeadline) && this.running < this.options.numBatchThreads) {
      this.timer = setTimeout(() => this.dispatch(), Math.max(0, nextDeadline - performance.now()));
    }
    this.notifyIfIdle();
  }

  /** The oldest closed batch, or the open one once it is full, has waited batch_timeout_micros, or we close. */
  private takeSchedulable(queue: Queue, timeoutMs: number): Batch | undefined {
    const [first] = queue.batches;
    if (!first || first.tasks.length === 0) return undefined;
    const due =
      first.closed ||
      this.closed ||
      first.size >= this.options.maxBatchSize ||
      performance.now() >= first.openedAt + timeoutMs;
    if (!due) return undefined;
    queue.batches.shift();
    if (queue.batches.length === 0) queue.batches.push(emptyBatch());
    return first;
  }

  private async process(queue: Queue, batch: Batch): Promise<void> {
    try {
      const outputs = await this.runBatch(queue, batch);
      let row = 0;
      for (const task of batch.tasks) {
        task.resolve(
          Object.fromEntries(
            Object.entries(outputs).map(([alias, tensor]) => [alias, sliceRows(tensor, row, task.size)]),
          ),
        );
        row += task.size;
      }
    } catch (error) {
      const failure = asTfServingError(error);
      for (const task of batch.tasks) task.reject(failure);
    } finally {
      this.running--;
      this.schedule();
    }
  }

  private async runBatch(queue: Queue, batch: Batch): Promise<Record<string, Tensor>> {
    const padded = this.paddedSize(batch.size);
    const merged: Record<string, Tensor> = {};
    for (const alias of Object.keys(batch.tasks[0]?.inputs ?? {})) {
      const parts = batch.tasks.map((task) => task.inputs[alias] as Tensor);
      const [reference] = parts as [Tensor];
      if (
        parts.some((part) => part.dtype !== reference.dtype || !sameRowShape(part.shape, reference.shape))
      ) {
        throw TfServingError.failedPrecondition(
          `Tensors with name '${alias}' from different tasks have different shapes and padding is turned off. Set pad_variable_length_inputs to true, or ensure that all tensors with the same name have equal dimensions starting with the first dim.`,
        );
      }
      const last = parts.at(-1) as Tensor;
      merged[alias] = concatRows(
        padded > batch.size ? [...parts, repeatFirstRow(last, padded - batch.size)] : parts,
      );
    }
    const outputs = await queue.servable.run(queue.signatureKey, merged, queue.outputAliases);
    for (const tensor of Object.values(outputs)) {
      if (tensor.shape.length === 0)
        throw TfServingError.failedPrecondition('Batched output tensor has 0 dimensions');
      if (tensor.shape[0] !== padded) {
        throw TfServingError.failedPrecondition(
          "Batched output tensor's 0th dimension does not equal the sum of the 0th dimension sizes of the input tensors",
        );
      }
    }
    return outputs;
  }

  /** The smallest allowed batch size that holds `size` (RoundToLowestAllowedBatchSize). */
  private paddedSize(size: number): number {
    return this.options.allowedBatchSizes.find((allowed) => allowed >= size) ?? size;
  }

  private notifyIfIdle(): void {
    if (this.running > 0) return;
    const pending = [...this.queues.values()].some((queue) =>
      queue.batches.some((batch) => batch.tasks.length > 0),
    );
    if (pending) return;
    for (const resolve of this.idle.splice(0)) resolve();
  }

  /** Refuses new requests, runs what is queued without waiting for timeouts, and resolves when all are done. */
  async close(): Promise<void> {
    this.closed = true;
    const done = new Promise<void>((resolve) => this.idle.push(resolve));
    this.schedule();
    await done;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
