import { defineConfig } from 'vitest/config';

// The emulators' tests start servers and child processes (tfjs-node takes seconds to load on 2 busy cores),
// so a test gets 30 s rather than Vitest's 5 s; a test that needs longer says so itself.
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
