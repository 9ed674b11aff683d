import { defineConfig } from 'vitest/config';

// Integration tests: real Kafka, real S3-compatible server, the real SendGrid SDK against a local
// stand-in. The servers start once for the whole run (global-setup.ts).
export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: ['test/integration/**/*.test.ts'],
    globalSetup: ['test/integration/global-setup.ts'],
    // Safety nets only: each test waits for the conditions it needs (a group settled, an event
    // arrived, an object written), with generous limits, so that a cold broker on a loaded 2-core
    // machine passes. Latency is measured by `npm run bench:e2e` and `npm run bench:kafka`.
    testTimeout: 300_000,
    hookTimeout: 300_000,
    // The tests' own S3 clients would print the AWS SDK's Node-version warning in the test output on
    // Node < 22. Not passed on to the service processes the tests start (stack.ts), which must show
    // it, as a JSON log record (service-logs.test.ts).
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    pool: 'forks',
    // Files share one broker and 2 cores: one file at a time.
    fileParallelism: false,
  },
});
