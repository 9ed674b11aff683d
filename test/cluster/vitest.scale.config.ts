import { defineConfig } from 'vitest/config';

// npm run bench:scale: a backfill through the six services with 1 and with 2 replicas per stage, on
// the integration tests' servers (one broker, S3). A benchmark: it asserts only that months publish.
export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: ['test/cluster/scale.bench.ts'],
    globalSetup: ['test/integration/global-setup.ts'],
    testTimeout: 3_600_000,
    hookTimeout: 300_000,
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    pool: 'forks',
    reporters: ['default'],
  },
});
