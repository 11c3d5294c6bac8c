import { defineConfig } from 'vitest/config';

// Unit tests and the accuracy tests (loopback test servers with a known service time) beside the code, and
// the k6 scripts' tests, where small stand-ins take the place of k6's modules (k6 itself is never installed:
// AGPL).
const standIn = (name: string) => new URL(`./k6/stand-ins/${name}.ts`, import.meta.url).pathname;

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'k6/**/*.test.ts'],
    testTimeout: 30_000,
    // one file at a time: the accuracy tests measure real time, and must not share the 2 cores with a stack
    fileParallelism: false,
  },
  resolve: {
    alias: [
      { find: /^k6$/, replacement: standIn('k6') },
      { find: /^k6\/http$/, replacement: standIn('http') },
      { find: /^k6\/net\/grpc$/, replacement: standIn('grpc') },
      { find: /^k6\/metrics$/, replacement: standIn('metrics') },
    ],
  },
});
