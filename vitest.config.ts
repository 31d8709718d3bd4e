import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Integration tests run the built product (dist/), as users do: build it first when stale.
    globalSetup: ['test/global-setup.ts'],
    // Most test files wait on processes they started (a sidecar, the simulator, a CLI command),
    // so two files at a time on a 2-core machine halve the run (8.1 → 5.0 min measured, every
    // test passing); vitest's own default there is one (CPUs − 1).
    maxWorkers: Math.max(2, availableParallelism() - 1),
  },
});
