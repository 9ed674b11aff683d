import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { embeddedDuckdb, inputBytes, LARGE_MONTH, LARGE_MONTH_ABOVE, RETURN_FREED_MEMORY_ABOVE } from './duckdb.js';

const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

describe("the in-process run's DuckDB settings", () => {
  it('hands freed memory back only above the threshold (the small months keep the faster allocator)', () => {
    expect(embeddedDuckdb({ inputBytes: RETURN_FREED_MEMORY_ABOVE }).returnFreedMemory).toBe(false);
    expect(embeddedDuckdb({ inputBytes: RETURN_FREED_MEMORY_ABOVE + 1 }).returnFreedMemory).toBe(true);
    expect(embeddedDuckdb().returnFreedMemory).toBe(false);
    expect(embeddedDuckdb({ inputBytes: 10, returnFreedMemoryAbove: 9 }).returnFreedMemory).toBe(true);
  });

  it("holds ingest's and clean's DuckDB lower and flushes the appender more often only above the large-month threshold", () => {
    const large = embeddedDuckdb({ inputBytes: LARGE_MONTH_ABOVE + 1 });
    expect(large).toMatchObject({
      memoryLimit: '512MB',
      returnFreedMemory: true,
      appendFlushRows: LARGE_MONTH.appendFlushRows,
      stages: {
        ingest: { memoryLimit: LARGE_MONTH.ingestMemoryLimit },
        clean: { memoryLimit: LARGE_MONTH.cleanMemoryLimit },
      },
    });
    // Only ingest and clean: merge's join needs the run's limit (it failed under 384MB).
    expect(Object.keys(large.stages ?? {})).toEqual(['ingest', 'clean']);
    // The small months (K = 20: 6.3 MB) as before: no stage of their own, DuckDB's appender batch.
    for (const small of [embeddedDuckdb({ inputBytes: LARGE_MONTH_ABOVE }), embeddedDuckdb()]) {
      expect(small.stages).toBeUndefined();
      expect(small.appendFlushRows).toBeUndefined();
    }
    expect(embeddedDuckdb({ inputBytes: 10, largeMonthAbove: 9 }).stages).toBeDefined();
  });

  it('keeps a memory limit (512MB unless given); one thread, the cores only above the large-month threshold', () => {
    expect(embeddedDuckdb().memoryLimit).toBe('512MB');
    expect(embeddedDuckdb({ memoryLimit: '1GB' }).memoryLimit).toBe('1GB');
    expect(embeddedDuckdb().threads).toBe(1);
    expect(embeddedDuckdb({ inputBytes: LARGE_MONTH_ABOVE }).threads).toBe(1);
    expect(embeddedDuckdb({ inputBytes: LARGE_MONTH_ABOVE + 1 }).threads).toBe(Math.max(1, availableParallelism()));
  });

  it("sums the workbooks' sizes; a missing file or a folder counts nothing", async () => {
    const d = await mkdtemp(join(tmpdir(), 'bn-duckdb-'));
    dirs.push(d);
    await writeFile(join(d, 'a.xlsx'), Buffer.alloc(3));
    await writeFile(join(d, 'b.xlsx'), Buffer.alloc(4));
    expect(inputBytes(d, ['a.xlsx', 'b.xlsx', 'missing.xlsx'])).toBe(7);
    expect(inputBytes(d, ['.'])).toBe(0);
  });
});
