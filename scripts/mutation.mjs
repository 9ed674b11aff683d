#!/usr/bin/env node
// npm run test:mutation -- --scope delivery|rules|assets|adapters|all [--part <name> [--mutate <file>]]
// --mutate narrows a part to one of its files (or a glob within it), judged by the part's own tests,
// e.g. --scope assets --part 'excel reader' --mutate shared/src/excel/read.ts: a file at a time takes
// minutes where the whole part takes an hour. Its incremental file and report are the file's own.
// Runs StrykerJS over one part of the code (the mutate globs below) against the unit tests that
// import the TypeScript sources (stryker.vitest.config.ts), then prints the score of each part.
// Each scope keeps its own incremental file and report under .cache/stryker/, so a second run of a
// scope only tries the mutants of code (or tests) that changed.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';

const PARTS = {
  // The modules the pipeline's delivery guarantees rest on (README: Failures: what is guaranteed).
  delivery: {
    'stage runner': ['shared/src/stage/runner.ts'],
    'assets runner': ['shared/src/stage/assets-runner.ts'],
    claims: ['services/ingest/src/claims.ts'],
    'published pointer': ['shared/src/published.ts'],
    'extracts publish': ['services/publisher/src/assets/extracts.ts'],
    retry: ['shared/src/retry/index.ts'],
    'alerter delivery': ['services/alerter/src/delivery.ts'],
    keys: ['shared/src/keys.ts'],
    text: ['shared/src/text/*.ts'],
  },
  // The rules' TypeScript (the SQL itself is tested at the rule: Stryker cannot mutate .sql).
  rules: {
    'assets (clean)': ['services/clean/src/assets/*.ts'],
    'assets (merge)': ['services/merge/src/assets/*.ts'],
    'assets (analytics)': ['services/analytics/src/assets/*.ts'],
    'excel reader': ['shared/src/excel/*.ts'],
  },
  // How the adapters classify their errors, and the retry that obeys them.
  adapters: {
    'error classification': ['shared/src/adapters/*-errors.ts'],
  },
};
// The assets' TypeScript (services/*/src/assets/*.ts) and the excel reader, each part against its own tests.
PARTS.assets = {
  'assets (analytics)': PARTS.rules['assets (analytics)'],
  'assets (merge)': PARTS.rules['assets (merge)'],
  'assets (clean)': PARTS.rules['assets (clean)'],
  'assets (ingest)': ['services/ingest/src/assets/*.ts'],
  'excel reader': PARTS.rules['excel reader'],
};
PARTS.all = { everything: ['shared/src/**/*.ts', 'services/*/src/**/*.ts'] };

// The test files a part's mutants are judged by, when a part is run alone (--part): the tests that
// import its module, and test/rules.test.ts, which runs the whole graph in the test's process. A
// static mutant (module-level code) runs every included file with the mutant active from the start
// (its module loaded anew in each file), so a short list keeps a part's run within minutes. A mutant
// these kill the whole suite kills too: the scores are lower bounds.
const RULES = 'test/rules.test.ts';
const TESTS = {
  'assets (analytics)': ['services/analytics/src/**/*.test.ts', RULES],
  'assets (merge)': ['services/merge/src/**/*.test.ts', RULES],
  'assets (clean)': ['services/clean/src/**/*.test.ts', RULES],
  'assets (ingest)': ['services/ingest/src/**/*.test.ts', RULES],
  'excel reader': [
    'shared/src/excel/*.test.ts',
    'shared/src/stage/read-once.test.ts',
    'services/analytics/src/report-writer.test.ts',
  ],
};

const args = process.argv.slice(2);
const at = args.indexOf('--scope');
const scope = at >= 0 ? args[at + 1] : (args.find((a) => a.startsWith('--scope='))?.slice(8) ?? 'delivery');
const only = (() => {
  const i = args.indexOf('--part');
  return i >= 0 ? args[i + 1] : undefined;
})();
const all = PARTS[scope];
if (!all) {
  console.error(`unknown scope "${scope}": use --scope ${Object.keys(PARTS).join('|')}`);
  process.exit(2);
}
if (only && !(only in all)) {
  console.error(`unknown part "${only}" of ${scope}: ${Object.keys(all).join(', ')}`);
  process.exit(2);
}
const narrow = (() => {
  const i = args.indexOf('--mutate');
  return i >= 0 ? args[i + 1] : undefined;
})();
if (narrow && !only) {
  console.error('--mutate narrows a part: give --part too');
  process.exit(2);
}
// --part runs one part of a scope (its own incremental file): on 2 busy cores a whole scope takes hours.
const parts = only ? { [only]: narrow ? [narrow] : all[only] } : all;
const tag =
  (only ? `${scope}-${only.replace(/[^a-z0-9]+/gi, '-')}` : scope) +
  (narrow ? `-${narrow.replace(/^.*\//, '').replace(/[^a-z0-9]+/gi, '-')}` : '');
const base = JSON.parse(readFileSync('stryker.config.json', 'utf8'));
const dir = '.cache/stryker';
mkdirSync(dir, { recursive: true });
// The parts' own tests (their union for a whole scope whose parts all have them); else all the unit tests.
const tests = Object.keys(parts).every((p) => TESTS[p])
  ? [...new Set(Object.keys(parts).flatMap((p) => TESTS[p]))]
  : undefined;
const config = {
  ...base,
  // vitest's `related` mode picks the test files that import a mutated module; it misses the tests
  // that reach a module through the graph (test/rules.test.ts), and a static mutant then runs none.
  vitest: { ...base.vitest, related: false },
  _comment: `generated by scripts/mutation.mjs for --scope ${scope}${only ? ` --part ${only}` : ''}${narrow ? ` --mutate ${narrow}` : ''}`,
  mutate: [
    ...Object.values(parts).flat(),
    '!**/*.test.ts',
    '!**/*.d.ts',
    '!shared/src/testing/**',
    '!shared/src/workers/testing/**',
    '!services/*/src/main.ts',
  ],
  // A loaded 2-core machine: a slow test is not an infinite loop.
  timeoutMS: 60_000,
  timeoutFactor: 3,
  concurrency: Number(process.env.BN_MUTATION_CONCURRENCY ?? 1),
  // A sandbox folder of its own: runs of two files (--mutate) can go at once; the other runs'
  // sandboxes (and reports) under .cache are no part of the project to copy.
  tempDirName: `${dir}/tmp-${tag}`,
  ignorePatterns: ['/.cache'],
  incrementalFile: `${dir}/incremental-${tag}.json`,
  jsonReporter: { fileName: `${dir}/report-${tag}.json` },
  reporters: ['clear-text', 'progress', 'json'],
};
const configFile = `${dir}/stryker-${tag}.config.json`;
writeFileSync(configFile, JSON.stringify(config, null, 2));
const run = spawnSync('npx', ['stryker', 'run', configFile], {
  stdio: 'inherit',
  env: { ...process.env, ...(tests ? { BN_MUTATION_TESTS: tests.join(',') } : {}) },
});
if (run.status !== 0) process.exit(run.status ?? 1);

// The score of each part: killed (and timed out) over killed, timed out, survived and not covered, as
// Stryker counts "mutation score" (compile errors and ignored mutants are out of it, as are the static
// mutants no test ran, below).
const report = JSON.parse(readFileSync(`${dir}/report-${tag}.json`, 'utf8'));
const rows = [];
for (const [name, globs] of Object.entries(parts)) {
  const res = globs.map(
    (g) =>
      new RegExp(
        `^${g
          .replace(/\./g, '\\.')
          .replace(/\*\*\//g, '(.*/)?')
          .replace(/\*/g, '[^/]*')}$`,
      ),
  );
  const c = { Killed: 0, Timeout: 0, Survived: 0, NoCoverage: 0, NotRun: 0 };
  for (const [file, f] of Object.entries(report.files))
    if (res.some((r) => r.test(file)))
      for (const m of f.mutants) {
        // A static mutant (module-level code) that makes its module throw on import: the vitest runner
        // collects no test from a file that fails to import, runs none, and reports "Survived"
        // (stryker-js 9.6 with vitest 4). Not a measurement either way: counted apart, out of the score.
        if (m.status === 'Survived' && m.static && m.testsCompleted === 0) c.NotRun++;
        else if (m.status in c) c[m.status]++;
      }
  const total = c.Killed + c.Timeout + c.Survived + c.NoCoverage;
  const score = total ? (100 * (c.Killed + c.Timeout)) / total : NaN;
  rows.push({
    part: name,
    mutants: total + c.NotRun,
    killed: c.Killed,
    timeout: c.Timeout,
    survived: c.Survived,
    noCoverage: c.NoCoverage,
    staticNoTestRan: c.NotRun,
    score: score.toFixed(1),
  });
}
console.log(`\nmutation score by part (--scope ${scope}):`);
console.table(rows);
writeFileSync(`${dir}/scores-${tag}.json`, JSON.stringify(rows, null, 2) + '\n');
