// npm run build (and prepare): zod, whose ESM build is about 95 modules, bundled with esbuild into
// shared/dist/events/zod.js, the one module through which the events' schemas import it
// (shared/src/events/zod.ts: `export { z } from 'zod'`). Node's loader resolves, reads and compiles
// each module apart: loading zod measured about 60 ms of CPU per process on this machine, the
// bundle about 25 ms, paid by every `bottleneck run` and service before its first event.
// The bundle is built from zod itself (not from the file it replaces), so running this again gives
// the same file; tsc's declaration (zod.d.ts) is left as it is: the same types. Without esbuild
// the module stays tsc's re-export and zod loads from node_modules.
import { existsSync, rmSync } from 'node:fs';
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

await esbuild.build({
  stdin: { contents: "export { z } from 'zod';\n", resolveDir: SHARED, sourcefile: 'zod.ts', loader: 'ts' },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outfile: OUT,
  logLevel: 'warning',
});
// tsc's source map describes the re-export, not the bundle.
rmSync(`${OUT}.map`, { force: true });
