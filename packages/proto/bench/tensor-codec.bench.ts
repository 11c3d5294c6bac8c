// pnpm --filter @modelgate/proto bench
// Encodes and decodes a 4 MiB float32 tensor through tensor_content and through float_val, each measured
// side by side with a plain copy of the same bytes in one run. Figures are MB/s of tensor payload, and each
// path's time as a multiple of the copy's: the ratio is what to compare across machines, not the MB/s.
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { Bench } from 'tinybench';
import {
  DataType,
  decodeTensor,
  encodeTensor,
  encodeTensorBinary,
  type Tensor,
  TensorProtoSchema,
} from '../src/index.js';

const ELEMENTS = 1 << 20; // 1 Mi float32 = 4 MiB
const BYTES = ELEMENTS * 4;

// Deterministic payload (a small LCG), so runs compare like with like.
const values = new Float32Array(ELEMENTS);
let seed = 42;
for (let i = 0; i < ELEMENTS; i++) {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  values[i] = seed / 2 ** 32 - 0.5;
}
const tensor: Tensor = { dtype: DataType.DT_FLOAT, shape: [1024, 1024], values };
const payload = new Uint8Array(values.buffer);
const contentWire = toBinary(TensorProtoSchema, encodeTensor(tensor, { form: 'content' }));
const repeatedWire = toBinary(TensorProtoSchema, encodeTensor(tensor, { form: 'repeated' }));

let sink = 0; // keeps results alive so nothing is optimised away
const bench = new Bench({ time: 1500, warmup: true, warmupTime: 300 });
bench
  .add('copy: Uint8Array.slice (allocate + copy)', () => {
    sink ^= payload.slice().byteLength;
  })
  .add('encode tensor_content (encodeTensorBinary)', () => {
    sink ^= encodeTensorBinary(tensor).byteLength;
  })
  .add('encode tensor_content (protobuf-es toBinary)', () => {
    sink ^= toBinary(TensorProtoSchema, encodeTensor(tensor, { form: 'content' })).byteLength;
  })
  .add('decode tensor_content', () => {
    sink ^= decodeTensor(fromBinary(TensorProtoSchema, contentWire)).values.length;
  })
  .add('encode float_val', () => {
    sink ^= toBinary(TensorProtoSchema, encodeTensor(tensor, { form: 'repeated' })).byteLength;
  })
  .add('decode float_val', () => {
    sink ^= decodeTensor(fromBinary(TensorProtoSchema, repeatedWire)).values.length;
  });

await bench.run();

const meanMs = (name: string) => {
  const task = bench.getTask(name);
  const latency = task?.result && 'latency' in task.result ? task.result.latency : undefined;
  if (!latency) throw new Error(`benchmark task ${name} did not run`);
  return latency.mean;
};
const copyMs = meanMs('copy: Uint8Array.slice (allocate + copy)');
const rows = bench.tasks.map((task) => {
  const ms = meanMs(task.name);
  return {
    path: task.name,
    'mean ms': ms.toFixed(3),
    'MB/s': (BYTES / 1e6 / (ms / 1000)).toFixed(0),
    'x copy time': (ms / copyMs).toFixed(2),
  };
});
console.info(`4 MiB float32 tensor (${ELEMENTS} elements); node ${process.version}; sink ${sink & 1}`);
console.table(rows);
