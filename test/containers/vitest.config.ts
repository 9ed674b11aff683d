import { defineConfig } from 'vitest/config';

// `npm run test:containers`: the compose stack in podman containers (scripts/containers.sh), then
// the pipeline end to end against it. Not part of `npm test`; .ci/run runs it after the fault suite.
export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: ['test/containers/**/*.test.ts'],
    // Safety nets only, against a hang: each step waits for a condition (an image built, a container
    // ready, a pointer switched). The first run on a machine builds the Debian base and the images
    // (several minutes on a loaded 2-core machine); later runs reuse them.
    testTimeout: 600_000,
    hookTimeout: 3_600_000,
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    pool: 'forks',
    fileParallelism: false,
  },
});
