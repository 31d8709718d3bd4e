import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Integration tests run the built product (dist/), as users do: build it first when stale.
    globalSetup: ['test/global-setup.ts'],
  },
});
