// npm run build (and prepare): zod, whose ESM build is about 95 modules, bundled with esbuild into
// shared/dist/events/zod.js, the one module through which the events' schemas import it
// (shared/src/events/zod.ts: `export { z } from 'zod'`). Node's loader resolves, reads and compiles
// each module apart: loading zod measured about 60 ms of CPU per process on this machine, the
// bundle about 25 ms, paid by every `bottleneck run` and service before its first event.
// The bundle is built from zod itself (not from the file it replaces), so running this again gives
// the same file; tsc's declaration (zod.d.ts) is left as it is: the same types (but its locales
// other than English throw: below). Without esbuild the module stays tsc's re-export and zod
// loads from node_modules.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SHARED = join(ROOT, 'shared');
const OUT = join(SHARED, 'dist', 'events', 'zod.js');

if (!existsSync(OUT)) {
  process.stderr.write(`bundle-zod: ${OUT} is missing (run tsc -b first)\n`);
  process.exit(1);
}
let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  process.stderr.write("bundle-zod: esbuild is not installed; zod loads from node_modules (tsc's re-export)\n");
  process.exit(0);
}

// zod's translations of its messages (z.locales: some 60 languages, 340 KB of the bundle's 855 KB of
// input): only English is bundled, the one zod sets itself and the pipeline's messages are in.
// Each other locale stays a function of the same name that throws, saying so: importing zod
// measured 22 ms of CPU with them, 15.5 ms without (issue 18: every run and service pays it at
// start). Should zod's locales index not be the list of re-exports this expects, it is bundled
// as it is.
const englishOnly = {
  name: 'zod-locales-en',
  setup(build) {
    build.onLoad({ filter: /[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/ }, (a) => {
      const text = readFileSync(a.path, 'utf8');
      const lines = text.split('\n').filter((l) => l.trim() && !l.trim().startsWith('//'));
      const names = lines.map((l) => /^export \{ default as (\w+) \} from "\.\/([\w-]+)\.js";$/.exec(l.trim()));
      if (names.some((m) => !m) || !names.some((m) => m[1] === 'en')) return undefined;
      const contents = names
        .map(([, name, file]) =>
          name === 'en'
            ? `export { default as en } from './${file}.js';`
            : `export const ${name} = () => { throw new Error('zod locale "${name}" is not in this build (scripts/bundle-zod.mjs bundles English only)'); };`,
        )
        .join('\n');
      return { contents, loader: 'js', resolveDir: dirname(a.path) };
    });
  },
};

await esbuild.build({
  stdin: { contents: "export { z } from 'zod';\n", resolveDir: SHARED, sourcefile: 'zod.ts', loader: 'ts' },
  plugins: [englishOnly],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outfile: OUT,
  logLevel: 'warning',
});
// tsc's source map describes the re-export, not the bundle.
rmSync(`${OUT}.map`, { force: true });
