import { defineConfig } from 'vitest/config';

// Unit and acceptance tests: next to the code (`*.test.ts`) and under test/ (not test/integration/,
// which has its own config and needs real servers).
export default defineConfig({
  test: {
    include: ['shared/src/**/*.test.ts', 'services/*/src/**/*.test.ts', 'cli/src/**/*.test.ts', 'test/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**', 'test/integration/**'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
