import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Ceilings, not budgets: a test waits on conditions, and on a busy 2-core
    // machine a CLI test that runs a dozen subprocesses can take minutes.
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: 'forks',
    // Most test files wait on subprocesses, PostgreSQL and SMTP peers rather
    // than compute: on 2 cores, vitest's default of one file at a time left
    // the CPU half idle (588 s; 446 s with three at a time).
    maxWorkers: Math.max(availableParallelism() - 1, 3),
  },
});
