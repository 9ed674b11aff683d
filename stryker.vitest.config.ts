import { defineConfig } from 'vitest/config';
import { sourceAliases } from './vitest.aliases.js';

// The unit tests that exercise the TypeScript sources in this process: Stryker's mutants live there.
// The acceptance tests under test/ run the compiled CLI as a process, which no mutant reaches, except
// test/rules.test.ts: the whole graph in this process (runEmbedded) on a month small enough to check
// by hand, the one test that runs the assets' own TypeScript (the rules' tests run their SQL alone).
// scripts/mutation.mjs narrows the files to a part's own tests (BN_MUTATION_TESTS, comma-separated
// globs): a static mutant runs every included file, so a narrow list keeps a part's run short.
const narrowed = process.env.BN_MUTATION_TESTS?.split(',').filter(Boolean);
export default defineConfig({
  resolve: { alias: sourceAliases },
  test: {
    include: narrowed?.length
      ? narrowed
      : ['shared/src/**/*.test.ts', 'services/*/src/**/*.test.ts', 'cli/src/**/*.test.ts', 'test/rules.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
