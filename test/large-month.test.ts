import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runEmbedded } from '../cli/src/embedded.js';
import { LARGE_MONTH } from '../cli/src/duckdb.js';
import { cleanupTmp, cli, tmp } from './helpers.js';

/**
 * Issue 18: a large month's run (ingest and clean under lower DuckDB memory limits, the appender flushed
 * every LARGE_MONTH.appendFlushRows rows) publishes what the usual settings publish. The K = 12
 * month (18,496 web rows: the appender flushes mid-sheet) is run both ways, the large-month
 * settings forced with `largeMonthAbove: 0`.
 */
const RUN_ID = '2024-01-20240215T090000-0a0b0c';
const NOW = new Date('2024-02-15T09:00:00.000Z');
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

let input: string;
beforeAll(async () => {
  input = await tmp('bn-large-');
  const g = await cli(['generate', '--out', input, '--scale', '12', '--seed', '1']);
  expect(g.code, g.stderr).toBe(0);
});
afterAll(cleanupTmp);

async function run(largeMonthAbove?: number) {
  const out = await tmp('bn-large-out-');
  const debug: { o: unknown; msg: string }[] = [];
  const log = {
    debug: (o: unknown, msg: string) => debug.push({ o, msg }),
    info() {},
    warn() {},
    error() {},
  };
  const s = await runEmbedded({
    input,
    out,
    partition: '2024-01',
    runId: RUN_ID,
    now: () => NOW,
    log,
    ...(largeMonthAbove !== undefined ? { largeMonthAbove } : {}),
  });
  expect(s.status, JSON.stringify(s.error)).toBe('succeeded');
  const dir = join(out, 'extracts', '2024-01', RUN_ID);
  const files: Record<string, string> = {};
  for (const f of (await readdir(dir)).sort()) if (f.endsWith('.csv')) files[f] = sha(await readFile(join(dir, f)));
  const manifest = JSON.parse(await readFile(join(dir, '_manifest.json'), 'utf8')) as {
    assets: Record<string, string>;
  };
  const { revenue_report: _, ...assets } = manifest.assets;
  const settings = debug.filter((d) => d.msg.startsWith("DuckDB's threads and memory limit")).map((d) => d.o);
  return { s, files, assets, settings };
}

describe('a large month: DuckDB held lower during ingest and clean (cli/src/duckdb.ts LARGE_MONTH)', () => {
  it("sets ingest's and clean's lower limits, the run's again from merge on, and publishes the same tables and CSVs", async () => {
    const usual = await run();
    const large = await run(0);
    expect(usual.settings).toEqual([]);
    expect(large.settings).toEqual([
      expect.objectContaining({ stage: 'ingest', memoryLimit: '244.1 MiB' }),
      expect.objectContaining({ stage: 'clean', memoryLimit: '366.2 MiB' }),
      expect.objectContaining({ stage: 'merge', memoryLimit: '488.2 MiB' }),
    ]);
    // web.xlsx has 18,496 rows at K = 12 (seed 1): the appender flushes mid-sheet.
    expect(LARGE_MONTH.appendFlushRows).toBeLessThan(18_496);
    expect(large.s.rowCounts).toEqual(usual.s.rowCounts);
    expect(large.s.totalRevenue).toBe(usual.s.totalRevenue);
    expect(Object.keys(large.files).length).toBeGreaterThan(0);
    expect(large.files).toEqual(usual.files);
    // The data versions: the Parquet tables' hashes, raw tables included.
    expect(large.assets).toEqual(usual.assets);
    // A safety net for two whole runs on a loaded machine (the config's 180 s was reached at load 31), not a speed target.
  }, 600_000);
});
