import { defineConfig } from 'vitest/config';
import { sourceAliases } from './vitest.aliases.js';

// The unit tests that exercise the TypeScript sources in this process: Stryker's mutants live there.
// The acceptance tests under test/ run the compiled CLI as a process, which no mutant reaches, except
// test/rules.test.ts: the whole graph in this process (runEmbedded) on a month small enough to check
// by hand, the one test that runs the assets' own TypeScript (the rules' tests run their SQL alone).
export default defineConfig({
  resolve: { alias: sourceAliases },
  test: {
    include: ['shared/src/**/*.test.ts', 'services/*/src/**/*.test.ts', 'cli/src/**/*.test.ts', 'test/rules.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
