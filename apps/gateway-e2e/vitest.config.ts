import { defineConfig } from 'vitest/config';

// Two projects: the unit tests of the commands (src/**/*.test.ts), and the contract suite (contract/), which
// runs against one stack started once in global setup (MODELGATE_PROVIDER=emulators|containers|remote,
// MODELGATE_STACK_FILE for remote) and shared by every file. JUnit XML for CI systems beside Vitest's output.
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 120_000,
    reporters: ['default', ['junit', { outputFile: 'reports/junit.xml' }]],
    projects: [
      { extends: true, test: { name: 'unit', include: ['src/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'contract',
          include: ['contract/**/*.contract.ts'],
          globalSetup: ['contract/global-setup.ts'],
          // one stack, and checks that read its counters and logs: one file at a time
          fileParallelism: false,
        },
      },
    ],
  },
});
