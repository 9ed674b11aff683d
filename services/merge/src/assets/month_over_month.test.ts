import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FolderStore } from '@bottleneck/shared/adapters/folder-store';
import type { AssetContext } from '@bottleneck/shared/assets/define';
import { DEFAULT_CHECK_SETTINGS } from '@bottleneck/shared/assets/settings';
import type { Db } from '@bottleneck/shared/duck/index';
import { loadSql } from '@bottleneck/shared/duck/sql';
import { freshDb } from '@bottleneck/shared/testing/duck';
import { money, monthOverMonthChecks, moved, previousPublished } from './month_over_month.js';

// The month-over-month rules at the rule: each compare_*.sql on a few hand-made rows, at its thresholds.
const sql = (name: string) => loadSql(new URL(`./${name}.sql`, import.meta.url));

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
const tmp = async () => {
  const d = await mkdtemp(join(tmpdir(), 'bn-mom-'));
  dirs.push(d);
  return d;
};

type Row = [id: number, price: string, revenue: string];

/** The previous month's published CSV as the publisher writes it (byte-order mark, quoted text), and this month's table. */
async function months(db: Db, previous: Row[], current: Row[]) {
  const dir = await tmp();
  const csv = join(dir, 'merged_with_revenue.csv');
  const lines = [
    'product_id,sku,post_title,price,revenue',
    ...previous.map(([id, p, r]) => `${id},s${id},"Wine ${id}, red",${p},${r}`),
  ];
  await writeFile(csv, `\uFEFF${lines.join('\r\n')}\r\n`);
  await db.run(sql('load_previous_merged_with_revenue'), { path: csv });
  await db.run(
    'CREATE TABLE merged_with_revenue (product_id BIGINT, post_title VARCHAR, price DECIMAL(18,4), revenue DECIMAL(38,2))',
  );
  for (const [id, p, r] of current)
    await db.run('INSERT INTO merged_with_revenue VALUES ($id, $t, $p::DECIMAL(18,4), $r::DECIMAL(38,2))', {
      id,
      t: `Wine ${id}, red`,
      p,
      r,
    });
}

const compare = (db: Db, name: string, params: Record<string, string>) =>
  db.one(sql(`compare_merged_with_revenue_${name}`), params);

describe('load_previous_merged_with_revenue', () => {
  it('reads the published CSV exactly: text as text (the mark skipped), money as decimals', async () => {
    const rows = await freshDb(async (db) => {
      await months(db, [[16004, '12.3456', '24.69']], []);
      return db.rows(
        'SELECT product_id, post_title, price::VARCHAR AS price, revenue::VARCHAR AS revenue FROM previous_month',
      );
    });
    expect(rows).toEqual([{ product_id: '16004', post_title: 'Wine 16004, red', price: '12.3456', revenue: '24.69' }]);
  });
});

describe('total revenue against the previous month', () => {
  const run = (previous: Row[], current: Row[], pct = '30') =>
    freshDb(async (db) => {
      await months(db, previous, current);
      return compare(db, 'total_revenue', { max_change_pct: pct });
    });

  it('exactly at the threshold passes; a cent past it does not (both ways)', async () => {
    expect(await run([[1, '1', '100.00']], [[1, '1', '70.00']])).toEqual({
      passed: true,
      previous_total: '100.00',
      current_total: '70.00',
      change_pct: '-30.0',
    });
    expect((await run([[1, '1', '100.00']], [[1, '1', '69.99']])).passed).toBe(false);
    expect((await run([[1, '1', '100.00']], [[1, '1', '130.00']])).passed).toBe(true);
    expect((await run([[1, '1', '100.00']], [[1, '1', '130.01']])).passed).toBe(false);
  });

  it('sums exactly (no float drift over many cents) and equal totals pass', async () => {
    const prev: Row[] = Array.from({ length: 10 }, (_v, i) => [i + 1, '1', '0.10']);
    expect(await run(prev, [[1, '1', '1.00']], '0')).toMatchObject({
      passed: true,
      previous_total: '1.00',
      change_pct: '0.0',
    });
    // Half the revenue: the 52% of the example, in words by the check.
    expect(await run([[1, '1', '70568.60']], [[1, '1', '33870.00']])).toMatchObject({
      passed: false,
      change_pct: '-52.0',
    });
  });

  it('a previous month without revenue: only none again passes', async () => {
    expect((await run([[1, '1', '0.00']], [[1, '1', '0.00']])).passed).toBe(true);
    expect(await run([[1, '1', '0.00']], [[1, '1', '5.00']])).toMatchObject({ passed: false, change_pct: null });
  });
});

describe('product count against the previous month', () => {
  const ids = (n: number): Row[] => Array.from({ length: n }, (_v, i) => [i + 1, '1', '1.00']);
  const run = (p: number, c: number, pct = '20') =>
    freshDb(async (db) => {
      await months(db, ids(p), ids(c));
      return compare(db, 'product_count', { max_change_pct: pct });
    });

  it('exactly at the threshold passes, one product past it does not; one row each passes', async () => {
    expect(await run(10, 8)).toEqual({ passed: true, previous_count: 10, current_count: 8, change_pct: '-20.0' });
    expect((await run(10, 7)).passed).toBe(false);
    expect((await run(10, 12)).passed).toBe(true);
    expect((await run(10, 13)).passed).toBe(false);
    expect((await run(1, 1, '0')).passed).toBe(true);
  });
});

describe('prices against the previous month', () => {
  const run = (previous: Row[], current: Row[], ratio = '2') =>
    freshDb(async (db) => {
      await months(db, previous, current);
      return compare(db, 'prices', { ratio });
    });

  it('exactly the ratio up or down passes; a hundredth past it does not; the largest move is listed first', async () => {
    expect(await run([[1, '10.00', '0']], [[1, '20.00', '0']])).toEqual({ passed: true, moved_count: 0, moved: [] });
    expect((await run([[1, '10.00', '0']], [[1, '5.00', '0']])).passed).toBe(true);
    expect((await run([[1, '10.0001', '0']], [[1, '20.0002', '0']])).passed).toBe(true);
    const r = await run(
      [
        [1, '10.00', '0'],
        [2, '25.00', '0'],
        [3, '10.00', '0'],
      ],
      [
        [1, '20.01', '0'],
        [2, '250.00', '0'],
        [3, '4.99', '0'],
      ],
    );
    expect(r).toEqual({
      passed: false,
      moved_count: 3,
      moved: [
        { productId: '2', title: 'Wine 2, red', previousPrice: '25.00', price: '250.00' },
        // 10 -> 4.99 is 2.004 times, 10 -> 20.01 is 2.001 times.
        { productId: '3', title: 'Wine 3, red', previousPrice: '10.00', price: '4.99' },
        { productId: '1', title: 'Wine 1, red', previousPrice: '10.00', price: '20.01' },
      ],
    });
  });

  it('compares only products of both months with positive prices', async () => {
    const r = await run(
      [
        [1, '0.00', '0'],
        [2, '-5.00', '0'],
        [3, '10.00', '0'],
      ],
      [
        [1, '50.00', '0'],
        [2, '50.00', '0'],
        [4, '999.00', '0'],
      ],
    );
    expect(r.passed).toBe(true);
  });
});

describe('products that appeared or disappeared', () => {
  const range = (a: number, b: number): Row[] => Array.from({ length: b - a + 1 }, (_v, i) => [a + i, '1', '1.00']);
  const run = (previous: Row[], current: Row[], pct = '20') =>
    freshDb(async (db) => {
      await months(db, previous, current);
      return compare(db, 'products', { max_churn_pct: pct });
    });

  it('appeared plus disappeared exactly at the threshold passes, below it fails; ids in numeric order', async () => {
    // 1..10 before; 1..9 and 11 now: one appeared, one went, 2 of 10 = 20%.
    const prev = range(1, 10);
    const cur = [...range(1, 9), ...range(11, 11)];
    expect(await run(prev, cur)).toEqual({
      passed: true,
      appeared_count: 1,
      disappeared_count: 1,
      previous_count: 10,
      appeared: ['11'],
      disappeared: ['10'],
    });
    expect((await run(prev, cur, '19.9999')).passed).toBe(false);
    expect((await run(range(1, 12), range(1, 1), '0')).disappeared).toEqual([
      '2',
      '3',
      '4',
      '5',
      '6',
      '7',
      '8',
      '9',
      '10',
      '11',
    ]);
  });

  it('the same products: passes at a threshold of 0', async () => {
    expect((await run(range(1, 3), range(1, 3), '0')).passed).toBe(true);
  });
});

describe('the checks, in words', () => {
  it('money and moves as people read them, from exact text', () => {
    expect(money('70568.6')).toBe('70,568.60');
    expect(money('33870.00')).toBe('33,870.00');
    expect(money('-1234567.891')).toBe('-1,234,567.89');
    expect(money('5')).toBe('5.00');
    expect(moved('-52.0')).toBe('fell 52%');
    expect(moved('4.5')).toBe('rose 4.5%');
  });

  /** An asset context over a folder store and a DuckDB connection: what the checks use of it. */
  async function context(db: Db, partition: string, store: FolderStore): Promise<AssetContext> {
    return {
      run: { runId: `${partition}-r`, partition, startedAt: '' },
      store,
      settings: DEFAULT_CHECK_SETTINGS,
      db: () => Promise.resolve(db),
      sql: (name: string) => sql(name),
      fetch: (key: string) => Promise.resolve(store.describe(key)),
    } as unknown as AssetContext;
  }

  async function publish(store: FolderStore, month: string, rows: Row[]) {
    const key = `extracts/${month}/${month}-r/merged_with_revenue.csv`;
    const lines = ['product_id,post_title,price,revenue', ...rows.map(([id, p, r]) => `${id},Wine ${id},${p},${r}`)];
    await store.put(key, `\uFEFF${lines.join('\n')}\n`);
    await store.put(
      `extracts/${month}/_current.json`,
      JSON.stringify({ partition: month, runId: `${month}-r`, files: [{ name: 'merged_with_revenue.csv', key }] }),
    );
  }

  it('the first month passes, saying there is nothing to compare', async () => {
    const store = new FolderStore(await tmp());
    const results = await freshDb(async (db) => {
      const ctx = await context(db, '2026-10', store);
      return Promise.all(monthOverMonthChecks.map(async (c) => c.run!(ctx)));
    });
    for (const r of results)
      expect(r).toEqual({
        passed: true,
        message: 'nothing to compare: no month before 2026-10 is published',
        metadata: { previousMonth: null },
      });
  });

  it('compares with the last published month before it (not a later one), and says what moved in words', async () => {
    const store = new FolderStore(await tmp());
    await publish(store, '2026-08', [[1, '1', '1.00']]);
    await publish(store, '2026-10', [
      [1, '25.00', '70568.60'],
      [2, '10.00', '0.00'],
    ]);
    await publish(store, '2026-12', [[1, '1', '1.00']]);
    expect((await previousPublished(store, '2026-11'))?.partition).toBe('2026-10');
    expect(await previousPublished(store, '2026-08')).toBeNull();
    const results = await freshDb(async (db) => {
      await db.run(
        'CREATE TABLE merged_with_revenue (product_id BIGINT, post_title VARCHAR, price DECIMAL(18,4), revenue DECIMAL(38,2))',
      );
      await db.run("INSERT INTO merged_with_revenue VALUES (1, 'Wine 1', 250, 33870.00), (3, 'Wine 3', 10, 0)");
      const ctx = await context(db, '2026-11', store);
      return Promise.all(monthOverMonthChecks.map(async (c) => c.run!(ctx)));
    });
    expect(results.map((r) => r.message)).toEqual([
      'total revenue fell 52% against 2026-10: 70,568.60 -> 33,870.00 (more than 30%)',
      undefined,
      '1 product changed price by more than 2 times against 2026-10: 1 Wine 1 25.00 -> 250.00',
      '1 product appeared (3) and 1 product disappeared (2) against 2026-10, more than 10% of its 2 products',
    ]);
    expect(results.map((r) => r.passed)).toEqual([false, true, false, false]);
    expect(results[0]!.metadata).toMatchObject({
      previousMonth: '2026-10',
      previousTotal: '70568.60',
      currentTotal: '33870.00',
    });
  });
});
