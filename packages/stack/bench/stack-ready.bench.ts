// The emulators provider's ready time: the first start in this process (cold: the service processes load
// tfjs-node and compile nothing cached) and the ones after (warm), each start followed by its teardown. The goal
// (issue: packages/stack and pnpm dev) is warm under 3 s on 2 cores. Prints figures; never fails on a timing.
//
//   pnpm --filter @modelgate/stack bench           (tsx bench/stack-ready.bench.ts)
//   BENCH_ROUNDS=5 tsx bench/stack-ready.bench.ts
import { startEmulatorStack } from '../src/index.js';

const rounds = Number(process.env.BENCH_ROUNDS ?? 4);
const ready: number[] = [];
const stops: number[] = [];
for (let round = 0; round < rounds; round++) {
  const started = performance.now();
  const stack = await startEmulatorStack();
  ready.push(performance.now() - started);
  const stopping = performance.now();
  await stack.stop();
  stops.push(performance.now() - stopping);
}
const warm = ready.slice(1).sort((a, b) => a - b);
const median = warm[Math.floor(warm.length / 2)] ?? Number.NaN;
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
console.log(
  `emulator stack ready: cold ${seconds(ready[0] ?? Number.NaN)}, warm median ${seconds(median)} (${warm.map(seconds).join(', ')})`,
);
console.log(`teardown: ${stops.map(seconds).join(', ')}`);
console.log(`warm / 3 s goal: ${(median / 3000).toFixed(2)}`);
