import { defineConfig } from 'vitest/config';

// npm run bench:e2e: the end-to-end benchmark, with the same real servers as the integration tests.
export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: ['test/integration/e2e.bench.ts'],
    globalSetup: ['test/integration/global-setup.ts'],
    testTimeout: 900_000,
    hookTimeout: 180_000,
    pool: 'forks',
  },
});
