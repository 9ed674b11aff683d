import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Duck, duckdbOptions, startDuckdbEarly } from './index.js';

const ducks: Duck[] = [];
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(ducks.map((d) => d.close()));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** A Duck for these settings, with a spill folder of its own, closed after the tests. */
async function duckFor(s: { threads?: number; memoryLimit?: string }): Promise<{ duck: Duck; spill: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'bn-early-'));
  dirs.push(dir);
  const spill = join(dir, 'duckdb-spill');
  const duck = new Duck(duckdbOptions(s, spill));
  ducks.push(duck);
  return { duck, spill };
}

/** Marks an early instance: a table only it has. */
async function mark(inst: ReturnType<typeof startDuckdbEarly>): Promise<void> {
  const conn = await (await inst).connect();
  try {
    await conn.run('CREATE TABLE started_early AS SELECT 1 AS x');
  } finally {
    conn.closeSync();
  }
}

const hasMark = (duck: Duck) =>
  duck.with(
    async (db) =>
      (await db.one("SELECT count(*)::INTEGER AS n FROM duckdb_tables() WHERE table_name = 'started_early'")).n === 1,
  );

describe('startDuckdbEarly: the instance started before the context, taken by its Duck', () => {
  it('the first Duck with the same settings takes it, with its own spill folder set on it; the next creates its own', async () => {
    const settings = { threads: 1, memoryLimit: '256MB' };
    await mark(startDuckdbEarly(duckdbOptions(settings)));
    const first = await duckFor(settings);
    expect(await hasMark(first.duck)).toBe(true);
    const s = await first.duck.with((db) =>
      db.one(
        "SELECT current_setting('temp_directory') AS dir, current_setting('threads')::INTEGER AS threads, current_setting('memory_limit') AS mem",
      ),
    );
    expect(s).toEqual({ dir: first.spill, threads: 1, mem: '244.1 MiB' });
    const second = await duckFor(settings);
    expect(await hasMark(second.duck)).toBe(false);
  });

  it('a Duck with other settings does not take it, and creates its own with its settings', async () => {
    await mark(startDuckdbEarly(duckdbOptions({ threads: 1, memoryLimit: '256MB' })));
    const other = await duckFor({ threads: 2, memoryLimit: '256MB' });
    expect(await hasMark(other.duck)).toBe(false);
    expect(await other.duck.with((db) => db.one("SELECT current_setting('threads')::INTEGER AS t"))).toEqual({ t: 2 });
    // Still there for a Duck with its settings.
    const same = await duckFor({ threads: 1, memoryLimit: '256MB' });
    expect(await hasMark(same.duck)).toBe(true);
  });
});
