import { defineConfig } from 'vitest/config';

// Integration tests: real Kafka, real S3-compatible server, the real SendGrid SDK against a local
// stand-in. The servers start once for the whole run (global-setup.ts).
export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: ['test/integration/**/*.test.ts'],
    globalSetup: ['test/integration/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Files share one broker: run them one at a time to keep timings honest on 2 cores.
    fileParallelism: false,
  },
});
