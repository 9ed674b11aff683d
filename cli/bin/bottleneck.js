#!/usr/bin/env node
// The `bottleneck` command: a committed launcher, so that npm can link the bin on the first
// `npm ci` of a clean clone (npm links bins before `prepare` compiles cli/dist/). It loads the
// compiled CLI, or says what to run when the build is missing.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const compiled = new URL('../dist/bin.js', import.meta.url);
if (!existsSync(fileURLToPath(compiled))) {
  process.stderr.write(
    'bottleneck: the CLI is not built yet (cli/dist/bin.js is missing).\n' +
      'Run "npm ci" (or "npm run build") at the root of the repository, then try again.\n',
  );
  process.exit(2);
}
await import(compiled.href);
