import { fileURLToPath } from 'node:url';

// The workspace packages resolve to their compiled dist/ (package.json "exports"); the unit tests
// resolve them to their TypeScript sources instead, so a test exercises the code in src/ (and
// Stryker's mutants, which live in src/, are reached through any package a test imports).
// Worker threads and the CLI processes of the acceptance tests still run dist/.
const root = (p: string) => fileURLToPath(new URL(p, import.meta.url));

const packages: Record<string, string> = {
  shared: 'shared/src',
  alerter: 'services/alerter/src',
  analytics: 'services/analytics/src',
  clean: 'services/clean/src',
  ingest: 'services/ingest/src',
  merge: 'services/merge/src',
  publisher: 'services/publisher/src',
  cli: 'cli/src',
};

export const sourceAliases = Object.entries(packages).flatMap(([name, dir]) => [
  { find: new RegExp(`^@bottleneck/${name}$`), replacement: root(`./${dir}/index.ts`) },
  { find: new RegExp(`^@bottleneck/${name}/(.*)$`), replacement: `${root(`./${dir}`)}/$1.ts` },
]);
