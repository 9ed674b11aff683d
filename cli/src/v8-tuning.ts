import { setFlagsFromString } from 'node:v8';

/**
 * Imported first by bin.ts, before any other module is evaluated: V8's optimizing compiler (TurboFan)
 * waits for a function to run 16 times longer than V8's default before it compiles it (the
 * interrupt budget, 67,584 by default, counts bytecode executed). A CLI process lives a second or
 * a minute: at V8's default, the compiler's background threads optimized hundreds of functions that
 * ran a few times (start-up code, zod's schemas, each stage's bookkeeping), about 0.2 s of CPU and
 * 4,000 page faults on the reference month; the loops that matter (the XML scanner's, the cell
 * conversions, the report's writer) run millions of times at large sizes and are optimized all the
 * same. Measured, whole `bottleneck run` processes, interleaved, medians of 7 (issue 18): reference
 * month 1.12 -> 1.03 s wall, 1.70 -> 1.48 s CPU; K = 20 unchanged within noise. Set at run time
 * (process-wide, the worker threads included) so that `node cli/dist/bin.js` gets it as the `bottleneck`
 * command does; functions V8 created before this line keep the default.
 */
export const INTERRUPT_BUDGET = 16 * 67_584;
setFlagsFromString(`--interrupt-budget=${INTERRUPT_BUDGET}`);
