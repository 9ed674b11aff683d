import { defineConfig } from 'vitest/config';

// The fault suite (`npm run test:faults`): real Kafka and S3 started once, the six services as
// processes, faults injected one scenario after the other. Not part of `npm test`.
export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: ['test/faults/**/*.test.ts'],
    globalSetup: ['test/faults/global-setup.ts'],
    // Safety nets only: each scenario waits for conditions (a pointer switched, a group caught up).
    testTimeout: 420_000,
    hookTimeout: 300_000,
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    pool: 'forks',
    fileParallelism: false,
    // Each scenario prints its row as it ends, and the table at the end.
    reporters: ['default'],
  },
});
