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
    // An overall net per scenario, above the sum of its waits' own nets (each wait is on a condition):
    // at load 40 one scenario took 10 minutes and more, every month published once.
    testTimeout: 2_700_000,
    // beforeEach brings a node back and waits for every replica in sync and every service ready (each
    // wait its own net): the hook's net is above their sum.
    hookTimeout: 1_800_000,
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    pool: 'forks',
    fileParallelism: false,
    reporters: ['default'],
  },
});
