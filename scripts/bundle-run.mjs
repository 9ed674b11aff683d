// npm run build (and prepare): the asset graph of `bottleneck run` (cli/dist/embedded.js and the
// modules only it imports: the wiring, the stages, the assets, the adapters of the in-process run)
// bundled with esbuild into cli/dist/embedded.bundle.js, which `bottleneck run` imports instead of
// embedded.js (issue 18). Node's ESM loader resolves, reads, compiles and links each module apart:
// importing the graph measured about 110 ms of CPU as some 90 modules, about 60 ms as one.
//
// Every module is loaded once, either in the bundle or as its own file, never both (two copies of a
// module would be two sets of its classes and state: BottleneckError's instanceof, the profile's
// phases, DuckDB's early instance). So the bundle leaves out, and imports as the files they are,
// every module that the process loads apart from the graph (`OUTSIDE`: the CLI's own imports before
// and beside the graph, the modules the graph imports at run time by URL: the Excel reader's task
// module, the catalog's backfills, the worker scripts) and everything those import. The
// bundled modules keep their own `import.meta.url` (a literal of their file's URL), so the SQL
// files, worker scripts and task modules they find from it are found where they are.
// test/acceptance.test.ts checks that a run loads none of the bundled modules as a file.
// Without esbuild there is no bundle and `bottleneck run` imports embedded.js.
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'cli', 'dist');
const ENTRY = join(CLI, 'embedded.js');
const OUT = join(CLI, 'embedded.bundle.js');
/** The bundled modules (paths from the root), for test/acceptance.test.ts. */
const LIST = join(CLI, 'embedded.bundle.json');
/** The prefetch's worker, bundled apart (3. below), and its modules. */
const WORKER_DIR = join(ROOT, 'shared', 'dist', 'stage');
const WORKER_OUT = join(WORKER_DIR, 'prefetch-worker.bundle.js');
const WORKER_LIST = join(WORKER_DIR, 'prefetch-worker.bundle.json');

/** What `bottleneck run` loads apart from the graph (cli/src/bin.ts, shared/src/stage/read-once.ts, ...). */
const OUTSIDE = [
  'cli/dist/bin.js',
  'cli/dist/duckdb.js',
  'cli/dist/output.js',
  'cli/dist/log.js',
  'shared/dist/stage/prefetch.js',
  'shared/dist/stage/prefetch-worker.js',
  'shared/dist/sources.js',
  'shared/dist/duck/index.js',
  'shared/dist/keys.js',
  'shared/dist/events/envelope.js',
  'shared/dist/events/zod.js',
  'shared/dist/service/config.js',
  // Imported at run time by URL: the task modules (taskFn: the Excel reader for clean, the report for
  // analytics), the catalog's backfills (a backfill's trigger).
  'shared/dist/excel/read.js',
  'services/analytics/dist/report.js',
  'shared/dist/catalog/backfills.js',
];

for (const f of [ENTRY, ...OUTSIDE.map((f) => join(ROOT, f))]) {
  if (!existsSync(f)) {
    process.stderr.write(`bundle-run: ${f} is missing (run tsc -b first)\n`);
    process.exit(1);
  }
}
let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  process.stderr.write('bundle-run: esbuild is not installed; bottleneck run imports cli/dist/embedded.js\n');
  rmSync(OUT, { force: true });
  rmSync(LIST, { force: true });
  rmSync(WORKER_OUT, { force: true });
  rmSync(WORKER_LIST, { force: true });
  process.exit(0);
}

/** A module's specifier from the bundle's folder (`dir`): the build stays movable with the checkout. */
const fromDir = (dir, path) => `./${relative(dir, path).split(sep).join('/')}`;
const ours = (path) => path.startsWith(ROOT) && !path.includes(`${join(ROOT, 'node_modules')}`);
/** Our modules' resolution: packages (node_modules) stay imports; so do dynamic imports (loaded when used, as files). */
const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  write: false,
  metafile: true,
  logLevel: 'warning',
  // Node's own `import.meta.resolve` stays as it is (it resolves packages, the same from cli/dist/).
  supported: { 'import-meta': true },
};
const packagesOut = (build) => {
  build.onResolve({ filter: /.*/ }, async (a) => {
    if (a.kind === 'entry-point' || a.pluginData?.inner) return undefined;
    const r = await build.resolve(a.path, { kind: a.kind, resolveDir: a.resolveDir, pluginData: { inner: true } });
    if (r.errors.length > 0) return { errors: r.errors };
    if (!ours(r.path)) return { path: a.path, external: true };
    if (a.kind === 'dynamic-import') return { path: r.path, external: true };
    return { path: r.path };
  });
};

// 1. Every module loaded apart from the graph, with what it imports.
const outside = new Set();
for (const f of OUTSIDE) {
  const r = await esbuild.build({
    ...common,
    entryPoints: [join(ROOT, f)],
    outfile: join(CLI, 'outside.tmp.js'),
    plugins: [{ name: 'packages-out', setup: packagesOut }],
  });
  for (const input of Object.keys(r.metafile.inputs)) outside.add(resolve(ROOT, input));
}

/**
 * Bundles `entry` into `out` (ESM): our modules inside, packages and dynamic imports left as imports
 * (a dynamic import, and a module `apart` says is loaded as its own file, by its URL from `out`'s
 * folder), each bundled module keeping its own `import.meta.url`. Writes the bundle and `list`, the
 * modules it holds with their size and mtime (what shared/src/bundle.ts checks before the bundle is
 * loaded); returns how many, and the bundle's size.
 */
async function bundle(name, entry, out, list, apart = () => false) {
  const dir = dirname(out);
  const inside = [];
  const r = await esbuild.build({
    ...common,
    entryPoints: [entry],
    outfile: out,
    plugins: [
      {
        name,
        setup(build) {
          build.onResolve({ filter: /.*/ }, async (a) => {
            if (a.kind === 'entry-point' || a.pluginData?.inner) return undefined;
            const r = await build.resolve(a.path, {
              kind: a.kind,
              resolveDir: a.resolveDir,
              pluginData: { inner: true },
            });
            if (r.errors.length > 0) return { errors: r.errors };
            if (!ours(r.path)) return { path: a.path, external: true };
            if (a.kind === 'dynamic-import' || apart(r.path)) return { path: fromDir(dir, r.path), external: true };
            return { path: r.path };
          });
          // A bundled module's import.meta.url is its own file's URL, as unbundled.
          build.onLoad({ filter: /\.js$/ }, (a) => {
            if (!ours(a.path)) return undefined;
            inside.push(a.path);
            const text = readFileSync(a.path, 'utf8');
            const own = `new URL(${JSON.stringify(fromDir(dir, a.path))}, import.meta.url).href`;
            return { contents: text.replaceAll('import.meta.url', own), loader: 'js' };
          });
        },
      },
    ],
  });
  const [js] = r.outputFiles.filter((o) => o.path.endsWith('.js'));
  writeFileSync(out, js.contents);
  const modules = inside.sort().map((p) => {
    const s = statSync(p);
    return { path: relative(ROOT, p).split(sep).join('/'), size: s.size, mtimeMs: s.mtimeMs };
  });
  writeFileSync(list, `${JSON.stringify({ modules }, null, 1)}\n`);
  return { count: inside.length, kib: Math.round(js.contents.length / 1024) };
}

// 2. The graph without them: each of them imported by its file's URL.
const graph = await bundle('graph', ENTRY, OUT, LIST, (p) => outside.has(p));
if (process.env.BUNDLE_RUN_VERBOSE)
  process.stderr.write(
    [...outside]
      .map((p) => relative(ROOT, p))
      .sort()
      .join('\n') + '\n',
  );
process.stderr.write(
  `bundle-run: ${graph.count} modules in ${OUT.slice(ROOT.length + 1)} (${graph.kib} KiB), ${outside.size} left to their files\n`,
);

// 3. The prefetch's worker (shared/src/stage/prefetch-worker.ts) and the Excel reader it runs, bundled
// apart into shared/dist/stage/prefetch-worker.bundle.js: a worker thread is its own set of modules,
// so the bundle holds every module it imports (its dynamic imports stay files, its packages
// imports). Its own ~20 modules measured about 10 ms of the worker's CPU before its first read,
// while the main thread competes for the cores (issue 18). stage/prefetch.ts loads the bundle only
// while each of its modules is the file it was built from (prefetch-worker.bundle.json).
const worker = await bundle('worker', join(WORKER_DIR, 'prefetch-worker.js'), WORKER_OUT, WORKER_LIST);
process.stderr.write(
  `bundle-run: ${worker.count} modules in ${WORKER_OUT.slice(ROOT.length + 1)} (${worker.kib} KiB)\n`,
);
