import { defineConfig } from 'vitest/config';

// Unit tests and the accuracy tests (loopback test servers with a known service time) beside the code.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    testTimeout: 30_000,
  },
});
