import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

/** DuckDB's settings in each context runEmbedded made, read from its instance. */
const seen: { memoryLimit: string; tempDirectory: string; flush: string; workDir: string }[] = [];

vi.mock('@bottleneck/shared/wiring', async (importOriginal) => {
  const wiring = await importOriginal<typeof import('@bottleneck/shared/wiring')>();
  return {
    ...wiring,
    createContext: async (...args: Parameters<typeof wiring.createContext>) => {
      const wired = await wiring.createContext(...args);
      const s = await wired.ctx.duck.with((db) =>
        db.one(
          `SELECT current_setting('memory_limit') AS m, current_setting('temp_directory') AS t, current_setting('allocator_bulk_deallocation_flush_threshold') AS f`,
        ),
      );
      seen.push({
        memoryLimit: String(s.m),
        tempDirectory: String(s.t),
        flush: String(s.f),
        workDir: wired.ctx.workDir,
      });
      return wired;
    },
  };
});

const { duckdbSettingsFor, runEmbedded } = await import('./embedded.js');

const MiB = 1024 * 1024;

describe('duckdbSettingsFor: DuckDB memory settings by the month size', () => {
  it('keeps 512MB and the allocator cache for small months', () => {
    expect(duckdbSettingsFor(373_000)).toEqual({ memoryLimit: '512MB', returnFreedMemory: false });
  });
  it('returns freed memory at once above 2 MiB, and still keeps 512MB (K = 20: 6 MB)', () => {
    expect(duckdbSettingsFor(6 * MiB)).toEqual({ memoryLimit: '512MB', returnFreedMemory: true });
    expect(duckdbSettingsFor(64 * MiB)).toEqual({ memoryLimit: '512MB', returnFreedMemory: true });
  });
  it('lowers the limit to 384MB above 64 MiB (the million-row month: 204 MB)', () => {
    expect(duckdbSettingsFor(64 * MiB + 1)).toEqual({ memoryLimit: '384MB', returnFreedMemory: true });
    expect(duckdbSettingsFor(204 * MiB)).toEqual({ memoryLimit: '384MB', returnFreedMemory: true });
  });
  it('lets the caller set the limit and the thresholds', () => {
    expect(duckdbSettingsFor(204 * MiB, { duckdbMemoryLimit: '1GB' }).memoryLimit).toBe('1GB');
    expect(duckdbSettingsFor(2000, { lowerMemoryLimitAbove: 1000 }).memoryLimit).toBe('384MB');
    expect(duckdbSettingsFor(2000, { returnFreedMemoryAbove: 1000 }).returnFreedMemory).toBe(true);
  });
});

describe("runEmbedded: the month's size reaches DuckDB", () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'bn-embedded-'));
    // Three small files (not workbooks: the run fails at ingest, after DuckDB has started).
    await mkdir(join(root, 'in'));
    for (const f of ['erp.xlsx', 'web.xlsx', 'liaison.xlsx']) await writeFile(join(root, 'in', f), Buffer.alloc(2000));
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  const run = (out: string, lowerMemoryLimitAbove?: number) =>
    runEmbedded({
      input: join(root, 'in'),
      out: join(root, out),
      partition: '2024-01',
      ...(lowerMemoryLimitAbove === undefined ? {} : { lowerMemoryLimitAbove }),
    });

  it('gives DuckDB 384MB, spilling to the run scratch folder, for a month above the threshold, 512MB otherwise', async () => {
    seen.length = 0;
    await run('small');
    // 6,000 bytes in all, over a threshold of 5,000: a large month.
    await run('large', 5000);
    expect(seen).toHaveLength(2);
    const [small, large] = seen as [(typeof seen)[0], (typeof seen)[0]];
    expect(small.memoryLimit).toMatch(/^48\d\.\d MiB$/);
    expect(large.memoryLimit).toMatch(/^36\d\.\d MiB$/);
    expect(large.tempDirectory.startsWith(large.workDir)).toBe(true);
    expect(small.flush).not.toBe('0 bytes');
  });
});
