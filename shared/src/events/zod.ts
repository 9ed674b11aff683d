/**
 * zod, as the events' schemas import it. `npm run build` replaces this module's output
 * (dist/events/zod.js) with zod bundled into one file by esbuild (scripts/bundle-zod.mjs): zod's
 * ESM build is about 95 modules, each resolved, read and compiled by Node's loader, which measured
 * about 60 ms of CPU per process against about 25 ms for the bundle, a cost every `bottleneck run`
 * and service pays at start. The same zod, the same types (dist/events/zod.d.ts is tsc's), but for
 * its message translations: English only (`z.locales.en`; any other locale throws, saying so);
 * without esbuild the output stays this re-export.
 */
export { z } from 'zod';
