import { defineConfig } from 'vitest/config';

// The cluster suite (`npm run test:cluster`): a three-broker KRaft cluster and S3 started once, the
// six services as processes, brokers killed, stopped and restarted one scenario after the other.
// Not part of `npm test`.
export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: ['test/cluster/**/*.test.ts'],
    globalSetup: ['test/cluster/global-setup.ts'],
    // Safety nets only: each scenario waits for conditions (months published, replicas back in sync).
    testTimeout: 900_000,
    hookTimeout: 300_000,
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    pool: 'forks',
    fileParallelism: false,
    reporters: ['default'],
  },
});
