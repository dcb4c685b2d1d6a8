import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Ceilings, not budgets: a test waits on conditions, and on a busy 2-core
    // machine a CLI test that runs a dozen subprocesses can take minutes.
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: 'forks',
  },
});
