import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';
import { sourceAliases } from './vitest.aliases.js';

// Unit and acceptance tests: next to the code (`*.test.ts`) and under test/ (not test/integration/,
// which has its own config and needs real servers).
export default defineConfig({
  resolve: { alias: sourceAliases },
  test: {
    include: ['shared/src/**/*.test.ts', 'services/*/src/**/*.test.ts', 'cli/src/**/*.test.ts', 'test/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**', 'test/integration/**'],
    // Safety nets, not speed targets: the acceptance tests run whole CLI processes, which take
    // several times longer on a loaded 2-core machine (13.6 s for the slowest one under load).
    testTimeout: 180_000,
    hookTimeout: 180_000,
    pool: 'forks',
    // One test file per core. Vitest's default is one fewer (cores - 1), which on a 2-core machine
    // runs the files one after the other; most of the slow files wait on CLI processes, DuckDB or a
    // browser, so a second file beside them cut the run by about a third (3 workers: no better).
    maxWorkers: availableParallelism(),
    // expect.poll waits for a condition, not for a time: its default gives up after 1 s, which a
    // backfill's first month on a loaded machine can take to start (a false failure, seen at a load of 20).
    expect: { poll: { timeout: 60_000 } },
  },
});
