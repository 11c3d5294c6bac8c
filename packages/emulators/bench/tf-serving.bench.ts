// Predict throughput of the TF Serving emulator (gRPC over loopback) next to calling the engine directly, at
// batch 1 and 32, measured side by side in one run: rounds alternate between the paths so that a machine that
// slows down or speeds up mid-run affects them alike. Prints predictions/s per path and each path's throughput
// as a ratio to the direct call: tfjs-node's loadSavedModel().predict where tfjs-node is set up (the engine
// the emulator then uses), else tfjs's GraphModel.execute on wasm. One request in flight at a time.
// The composed floor, 1 / (1/engine + 1/round trip), is the engine and a bare grpc-js round trip done one after
// the other with nothing else: the most the emulator could reach; the last column is each path's share of it.
//
//   pnpm --filter @modelgate/emulators bench        (tsx bench/tf-serving.bench.ts)
//   BENCH_SECONDS=2 BENCH_MODELS=classifier,convnet tsx bench/tf-serving.bench.ts

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { buildModel, type FixtureGraphId, goldenInputs, modelFiles } from '@modelgate/fixtures';
import {
  addUnaryService,
  createPromiseClient,
  encodeTensorBinary,
  PredictionService,
  type Tensor,
  TensorProtoSchema,
} from '@modelgate/proto';
import { toTfTensor } from '@modelgate/proto/tfjs';
import { loadGraphModel } from '@tensorflow/tfjs-converter';
import type * as tf from '@tensorflow/tfjs-core';
import { loadTfjs } from '../src/tf-serving/backend/tfjs-backend.js';
import { createModelRunner, TfServingEmulator } from '../src/tf-serving/index.js';
import { readMetaGraph } from '../src/tf-serving/saved-model-reader.js';
import { SILENT_LOG } from '../src/tf-serving/server-log.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 1.5);
const ROUNDS = 5;
const MODELS = (process.env.BENCH_MODELS ?? 'classifier,convnet').split(',') as FixtureGraphId[];
const BATCHES = [1, 32];

type Call = () => Promise<unknown>;

/**
 * A grpc-js server whose Predict answers at once with a fixed response: the cost of a gRPC round trip on this
 * machine with client and server in one process, the floor under the emulator's number.
 */
async function echoServer(): Promise<{ port: number; stop(): void }> {
  const server = new Server();
  addUnaryService(server, PredictionService, { predict: (request) => ({ modelSpec: request.modelSpec }) });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  return { port, stop: () => server.forceShutdown() };
}

/** Calls per second of `call` over `seconds`. */
async function rate(call: Call, seconds: number): Promise<number> {
  const end = performance.now() + seconds * 1000;
  let calls = 0;
  const started = performance.now();
  while (performance.now() < end) {
    await call();
    calls++;
  }
  return calls / ((performance.now() - started) / 1000);
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

async function writeModels(graphs: FixtureGraphId[]): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'tf-serving-bench-'));
  for (const [path, bytes] of modelFiles(graphs.map((graph) => ({ name: graph, graph, version: 1 })))) {
    if (!path.startsWith('saved-models/')) continue;
    const target = join(root, path.slice('saved-models/'.length));
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, bytes);
  }
  return root;
}

async function main() {
  const engine = await loadTfjs({ log: () => {} });
  const { tf } = engine;
  const runner = await createModelRunner({ loadTfjs });
  const native = engine.backend === 'tensorflow' ? engine.loadSavedModel : undefined;
  const baselineName = native ? 'tfjs-node loadSavedModel().predict' : 'tfjs GraphModel.execute';
  const root = await writeModels(MODELS);
  // One emulator per model, each started with the single-model flags (--port=0 --model_name --model_base_path).
  const emulators: TfServingEmulator[] = [];
  const ports = new Map<string, number>();
  for (const graph of MODELS) {
    const emulator = new TfServingEmulator({
      pickFreeGrpcPort: true,
      modelName: graph,
      modelBasePath: join(root, graph),
      runner,
      log: () => {},
    });
    emulators.push(emulator);
    ports.set(graph, (await emulator.start()).grpcPort);
  }
  const echo = await echoServer();
  const echoClient = createPromiseClient(PredictionService, `127.0.0.1:${echo.port}`);
  console.log(`TF Serving emulator Predict throughput, ${runner.description}, Node ${process.versions.node}`);
  console.log(`${SECONDS}s per path per round, ${ROUNDS} rounds, median; ratio = path / ${baselineName}\n`);
  const rows: string[][] = [['model', 'batch', 'path', 'predictions/s', 'ratio', 'of composed floor']];
  try {
    for (const graph of MODELS) {
      const built = buildModel(graph, 1);
      const artifacts = JSON.parse(built.tfjs.modelJson) as tf.io.ModelJSON;
      const graphModel = await loadGraphModel(
        tf.io.fromMemory({
          modelTopology: artifacts.modelTopology,
          weightSpecs: artifacts.weightsManifest.flatMap((group) => group.weights),
          weightData: built.tfjs.weights.slice().buffer,
        }),
      );
      const servable = await runner.load({
        exportDir: join(root, graph, '1'),
        metaGraph: await readMetaGraph(join(root, graph, '1'), ['serve'], SILENT_LOG),
        tags: ['serve'],
      });
      const savedModel = native
        ? await native(join(root, graph, '1'), ['serve'], 'serving_default')
        : undefined;
      const client = createPromiseClient(PredictionService, `localhost:${ports.get(graph)}`);
      const outputAliases = built.signature.outputs.map((spec) => spec.alias);
      for (const batch of BATCHES) {
        const inputs = goldenInputs(graph, batch);
        const feeds = Object.fromEntries(
          built.signature.inputs.map((spec) => [spec.tensorName, toTfTensor(inputs[spec.alias] as Tensor)]),
        );
        const fetches = built.signature.outputs.map((spec) => spec.tensorName);
        const byAlias = Object.fromEntries(
          built.signature.inputs.map((spec) => [spec.alias, feeds[spec.tensorName] as tf.Tensor]),
        );
        const direct: Call = savedModel
          ? async () => {
              const out = savedModel.predict(byAlias);
              const outputs =
                out instanceof tf.Tensor ? [out] : Array.isArray(out) ? out : Object.values(out);
              for (const tensor of outputs) await tensor.data();
              tf.dispose(outputs);
            }
          : async () => {
              const out = graphModel.execute(feeds, fetches) as tf.Tensor | tf.Tensor[];
              const outputs = Array.isArray(out) ? out : [out];
              for (const tensor of outputs) await tensor.data();
              tf.dispose(outputs);
            };
        const request = {
          modelSpec: { name: graph },
          inputs: Object.fromEntries(
            Object.entries(inputs).map(([alias, tensor]) => [
              alias,
              fromBinary(TensorProtoSchema, encodeTensorBinary(tensor)),
            ]),
          ),
        };
        const paths: [string, Call][] = [
          [baselineName, direct],
          [
            'runner (the engine, typed arrays in/out)',
            () => servable.run('serving_default', inputs, outputAliases),
          ],
          ['emulator gRPC Predict (loopback)', () => client.predict(request)],
          ['floor: grpc-js round trip, no model', () => echoClient.predict(request)],
        ];
        for (const [, call] of paths) await rate(call, 0.2);
        const rates = paths.map(() => [] as number[]);
        for (let round = 0; round < ROUNDS; round++) {
          for (const [i, [, call]] of paths.entries()) rates[i]?.push((await rate(call, SECONDS)) * batch);
        }
        const baseline = median(rates[0] as number[]);
        const roundTrip = median(rates[3] as number[]);
        const composed = 1 / (1 / baseline + 1 / roundTrip);
        const row = (name: string, value: number) =>
          rows.push([
            graph,
            String(batch),
            name,
            value.toFixed(0),
            (value / baseline).toFixed(2),
            (value / composed).toFixed(2),
          ]);
        for (const [i, [name]] of paths.entries()) row(name, median(rates[i] as number[]));
        row('composed floor: engine, then round trip', composed);
        tf.dispose(Object.values(feeds));
      }
      client.close();
      savedModel?.dispose();
      servable.dispose();
      graphModel.dispose();
    }
  } finally {
    echoClient.close();
    echo.stop();
    for (const instance of emulators) await instance.stop();
    await rm(root, { recursive: true, force: true });
  }
  const widths =
    rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  for (const [index, row] of rows.entries()) {
    console.log(
      row
        .map((cell, column) =>
          column >= 3 ? cell.padStart(widths[column] ?? 0) : cell.padEnd(widths[column] ?? 0),
        )
        .join('  '),
    );
    if (index === 0) console.log(widths.map((width) => '-'.repeat(width)).join('  '));
  }
}

await main();
