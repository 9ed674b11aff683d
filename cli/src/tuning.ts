import { setFlagsFromString } from 'node:v8';

/**
 * The CLI's process tuning, imported first by bin.ts, before any other module is evaluated (and so
 * before DuckDB's native library is loaded). Both settings measured on whole `bottleneck run`
 * processes (issue 18; README, "Issue 18").
 */

/**
 * V8's optimizing compiler (TurboFan) waits for a function to run 16 times longer than V8's default
 * before it compiles it (the interrupt budget, 67,584 by default, counts bytecode executed). A CLI
 * process lives a second or a minute: at V8's default, the compiler's background threads optimized
 * hundreds of functions that ran a few times (start-up code, zod's schemas, each stage's
 * bookkeeping), about 0.2 s of CPU and 4,000-6,000 page faults on the reference month; the loops
 * that matter (the XML scanner's, the cell conversions, the report's writer) run millions of times
 * at large sizes and are optimized all the same. Set at run time (process-wide, worker threads
 * included) so that `node cli/dist/bin.js` gets it as the `bottleneck` command does.
 */
export const INTERRUPT_BUDGET = 16 * 67_584;

/**
 * DuckDB's allocator (jemalloc, linked into DuckDB on Linux and configured by this variable) hands
 * pages nobody used for 100 ms back to the system, instead of keeping them for DuckDB's default
 * decay: with that, a large month's DuckDB can keep its freed memory between statements (see
 * `duckdbOptions`' `returnFreedMemory`) and its peak RSS still stays bounded. A user's own setting
 * is kept.
 */
export const DUCKDB_ALLOCATOR = 'dirty_decay_ms:100,muzzy_decay_ms:0';

/** Sets DuckDB's allocator variable in `env` unless it is set already; returns what it holds then. */
export function tuneDuckdbAllocator(env: NodeJS.ProcessEnv = process.env): string {
  env.DUCKDB_JE_MALLOC_CONF ??= DUCKDB_ALLOCATOR;
  return env.DUCKDB_JE_MALLOC_CONF;
}

setFlagsFromString(`--interrupt-budget=${INTERRUPT_BUDGET}`);
tuneDuckdbAllocator();
