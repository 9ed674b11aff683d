import { availableParallelism } from 'node:os';

/**
 * DuckDB's settings in an in-process run: the machine's cores as threads and a memory limit
 * (default 512MB: the tables of a month of a million web rows fit; beyond, DuckDB spills to the
 * run's scratch folder rather than growing the process). In a module of its own so that
 * `bottleneck run` can start DuckDB with them before it imports the asset graph.
 */
export function embeddedDuckdb(memoryLimit = '512MB'): { threads: number; memoryLimit: string } {
  return { threads: Math.max(1, availableParallelism()), memoryLimit };
}
