// npm run build (and prepare): @duckdb/node-api, CommonJS in 181 files, bundled with esbuild into
// one file, shared/dist/duck/node-api.cjs, which shared/src/duck/index.ts requires first. Loading
// one file instead of 181 (each resolved, read and compiled apart) measured about 50 ms of CPU
// less per process on this machine (100 ms -> 50 ms): a cost every `bottleneck run` pays before
// its first query. The native binding (@duckdb/node-bindings) stays outside, loaded as it is.
// Without esbuild (an install without dev dependencies), or when the binding would not resolve from
// dist/ as it does from the API's own folder, no bundle is made and the API loads from node_modules.
import { existsSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'shared', 'dist', 'duck', 'node-api.cjs');
const BINDINGS = '@duckdb/node-bindings';

function skip(why) {
  if (existsSync(OUT)) rmSync(OUT);
  process.stderr.write(`bundle-duckdb: no bundle (${why}); DuckDB's API loads from node_modules\n`);
  process.exit(0);
}

let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  skip('esbuild is not installed');
}
const fromShared = createRequire(join(ROOT, 'shared', 'package.json'));
const entry = fromShared.resolve('@duckdb/node-api');
// The bundle requires the binding from shared/dist/duck/: it must be the one the API itself gets.
const bindingOf = (from) => {
  try {
    return createRequire(from).resolve(BINDINGS);
  } catch {
    return null;
  }
};
const own = bindingOf(entry);
if (!own || own !== bindingOf(OUT)) skip(`${BINDINGS} resolves differently from shared/dist/duck/`);

await esbuild.build({
  entryPoints: [entry],
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: [BINDINGS],
  outfile: OUT,
  logLevel: 'warning',
});
