import { statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';

/**
 * Workbooks larger than this in all (bytes, 2 MiB: between five and six times the reference month)
 * make DuckDB hand freed memory back to the system early (`duckdbOptions`' `returnFreedMemory`):
 * about 65 MiB less peak RSS at 20 times the reference size, for some 15% more wall time, which the
 * small months are spared.
 */
export const RETURN_FREED_MEMORY_ABOVE = 2 * 1024 * 1024;

/**
 * Workbooks larger than this in all (bytes, 64 MiB: the million-row month has 204 MB, K = 20 6.3
 * MB) are read with DuckDB held lower (`LARGE_MONTH`): the peak of such a month is while ingest
 * appends the web sheet's rows to DuckDB.
 */
export const LARGE_MONTH_ABOVE = 64 * 1024 * 1024;

/**
 * A large month's DuckDB: ingest (the workbooks' rows into DuckDB) under 256MB and clean (web rows
 * deduplicated on every column, ranked, sorted) under 384MB, their tables spilled to the run's
 * scratch folder beyond; merge on (the join of the three clean tables failed under 384MB: "failed to
 * pin block") under the run's limit. The appender hands its rows to the table every 16,384 rows
 * (its own buffer, up to 204,800 rows, is outside the limit). The million-row month: peak RSS 859
 * MiB against 1,048 (README, issue 18).
 */
export const LARGE_MONTH = { ingestMemoryLimit: '256MB', cleanMemoryLimit: '384MB', appendFlushRows: 16_384 } as const;

/** The three workbooks' size in all (bytes; a file that is not there counts 0: the run reports it). */
export function inputBytes(input: string, files: readonly string[]): number {
  let n = 0;
  for (const f of files) {
    try {
      const s = statSync(join(input, f));
      if (s.isFile()) n += s.size;
    } catch {
      // missing: the run names it
    }
  }
  return n;
}

/**
 * DuckDB's settings in an in-process run: one thread below `LARGE_MONTH_ABOVE`, the machine's cores
 * above (a statement then runs on the thread that asked for it: the stages already run several
 * statements at once on Node's thread pool, beside the main thread and the prefetch worker, and
 * DuckDB's own workers cost more in wake-ups and hand-offs than they saved there: measured on
 * whole runs, medians of 10 and 4 interleaved, reference 1.17 -> 1.11 s wall and 1.75 -> 1.62 s
 * CPU, K = 20 4.36 -> 3.85 s and 6.18 -> 5.29 s, peak RSS 232-240 -> 212-221 MiB); a memory limit
 * (default 512MB: the tables of a month of a million web rows fit; beyond, DuckDB spills to the
 * run's scratch folder rather than growing the process), and freed memory handed back at once
 * for large months; for the largest (`LARGE_MONTH_ABOVE`), ingest and clean under lower limits and a
 * smaller appender batch (`LARGE_MONTH`). In a module of its own so that `bottleneck run` can start DuckDB
 * with them before it imports the asset graph (the same settings, or the run starts its own instance).
 */
export function embeddedDuckdb(
  o: { memoryLimit?: string; inputBytes?: number; returnFreedMemoryAbove?: number; largeMonthAbove?: number } = {},
): {
  threads: number;
  memoryLimit: string;
  returnFreedMemory: boolean;
  appendFlushRows?: number;
  stages?: Partial<Record<string, { memoryLimit?: string; threads?: number }>>;
} {
  const bytes = o.inputBytes ?? 0;
  const large = bytes > (o.largeMonthAbove ?? LARGE_MONTH_ABOVE);
  return {
    threads: large ? Math.max(1, availableParallelism()) : 1,
    memoryLimit: o.memoryLimit ?? '512MB',
    returnFreedMemory: bytes > (o.returnFreedMemoryAbove ?? RETURN_FREED_MEMORY_ABOVE),
    ...(large
      ? {
          appendFlushRows: LARGE_MONTH.appendFlushRows,
          stages: {
            ingest: { memoryLimit: LARGE_MONTH.ingestMemoryLimit },
            clean: { memoryLimit: LARGE_MONTH.cleanMemoryLimit },
          },
        }
      : {}),
  };
}
