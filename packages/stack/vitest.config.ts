import { defineConfig } from 'vitest/config';

// The provider tests start three service processes (tfjs-node takes seconds to load on 2 busy cores), so a test
// gets 30 s rather than Vitest's 5 s, and a hook two minutes.
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});
