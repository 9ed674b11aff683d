import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Db } from '@bottleneck/shared/duck/index';
import { exportCsv } from '@bottleneck/shared/duck/export';
import { loadSql } from '@bottleneck/shared/duck/sql';
import { freshDb } from '@bottleneck/shared/testing/duck';
import { PREMIUM_Z } from './wines.js';

// The analytics rules at the rule: each .sql beside this file run on a few hand-made merged rows.
const sql = (name: string) => loadSql(new URL(`./${name}.sql`, import.meta.url));
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** merged_with_revenue with one row per price (product_id 1, 2, ...), total_sales 1, revenue = price. */
async function merged(db: Db, prices: (string | null)[], titles: string[] = []): Promise<void> {
  await db.run('DROP TABLE IF EXISTS merged_with_revenue');
  await db.run(`CREATE TABLE merged_with_revenue (product_id BIGINT, sku VARCHAR, post_title VARCHAR, price DECIMAL(18,4),
    total_sales BIGINT, revenue DECIMAL(38,2), stock_status VARCHAR, guid VARCHAR)`);
  for (const [i, p] of prices.entries())
    await db.run(
      'INSERT INTO merged_with_revenue VALUES ($id, $sku, $title, $price::DECIMAL(18,4), 1, $price::DECIMAL(38,2), $st, $guid)',
      {
        id: i + 1,
        sku: `s${String(i + 1)}`,
        title: titles[i] ?? `Wine ${String(i + 1)}`,
        price: p,
        st: 'instock',
        guid: `https://shop.example/?p=${String(i + 1)}`,
      },
    );
}

/** z-scores of the merged rows, then the premium and ordinary selections (product ids). */
async function zscores(prices: (string | null)[], titles?: string[]) {
  return freshDb(async (db) => {
    await merged(db, prices, titles);
    await db.run(sql('create_wine_price_zscores'));
    const z = await db.rows('SELECT product_id, z_score, is_vintage FROM wine_price_zscores ORDER BY product_id');
    const pick = async (premium: boolean) =>
      (await db.rows(sql('select_wines').replace(/;\s*$/, ''), { threshold: PREMIUM_Z, premium })).map((r) =>
        Number(r.product_id),
      );
    const check = await db.one(sql('check_wine_price_zscores_row_count_matches_merged'));
    return { z, premium: await pick(true), ordinary: await pick(false), check };
  });
}

describe('wine_price_zscores and the premium selection', () => {
  it('is premium only above the threshold: a z of exactly 2 is ordinary', async () => {
    // Mean 20, sample standard deviation 20: the 60 has z = 2 exactly (in DOUBLE too).
    const r = await zscores(['10.00', '10.00', '10.00', '10.00', '20.00', '60.00']);
    expect(r.z.map((x) => x.z_score)).toEqual([-0.5, -0.5, -0.5, -0.5, 0, 2]);
    expect(r.premium).toEqual([]);
    expect(r.ordinary).toEqual([6, 5, 1, 2, 3, 4]);
  });

  it('is premium just above the threshold', async () => {
    const r = await zscores(['10.00', '10.00', '10.00', '10.00', '20.00', '60.01']);
    expect(r.z.at(-1)!.z_score as number).toBeGreaterThan(2);
    expect(r.premium).toEqual([6]);
    expect(r.ordinary).toEqual([5, 1, 2, 3, 4]);
  });

  it('uses the sample standard deviation (n - 1): with the population one the 60 would be premium', async () => {
    // Population sd = 20 * sqrt(5/6) = 18.26, z = 2.19 > 2; sample sd = 20, z = 2.
    const r = await zscores(['10.00', '10.00', '10.00', '10.00', '20.00', '60.00']);
    expect(r.z.at(-1)!.z_score).toBe(2);
  });

  it('gives no z (ordinary) for one row, and for rows of equal price (standard deviation 0)', async () => {
    const one = await zscores(['25.00']);
    expect(one.z).toEqual([{ product_id: '1', z_score: null, is_vintage: false }]);
    expect([one.premium, one.ordinary]).toEqual([[], [1]]);
    const equal = await zscores(['25.00', '25.00']);
    expect(equal.z.map((x) => x.z_score)).toEqual([null, null]);
    expect([equal.premium, equal.ordinary]).toEqual([[], [1, 2]]);
  });

  it('computes z from the sums exactly: the same digits whatever the row order', async () => {
    const a = await zscores(['12.3400', '99.9900', '7.0100', '45.5000', '12.3400']);
    const b = await zscores(['12.3400', '45.5000', '7.0100', '99.9900', '12.3400']);
    const byPrice = (r: typeof a, prices: string[]): Record<string, unknown> =>
      Object.fromEntries(r.z.map((x, i): [string, unknown] => [prices[i] ?? '', x.z_score]));
    expect(byPrice(a, ['12.3400', '99.9900', '7.0100', '45.5000', '12.3400'])).toEqual(
      byPrice(b, ['12.3400', '45.5000', '7.0100', '99.9900', '12.3400']),
    );
  });

  it('orders by price descending, then product_id; rounds z to 6 decimals; the row-count check passes', async () => {
    const r = await zscores(['30.00', '10.00', '30.00', '20.00']);
    expect(r.ordinary).toEqual([1, 3, 4, 2]);
    expect(r.check).toMatchObject({ passed: true, zscore_rows: 4, merged_rows: 4 });
    const z = await freshDb(async (db) => {
      await merged(db, ['30.00', '10.00', '30.00', '20.00']);
      await db.run(sql('create_wine_price_zscores'));
      return db.rows(sql('select_wines').replace(/;\s*$/, ''), { threshold: PREMIUM_Z, premium: false });
    });
    expect(z.map((x) => x.z_score)).toEqual([0.783349, 0.783349, -0.261116, -1.305582]);
  });

  it('marks a vintage when the title holds a year 19xx or 20xx as a word', async () => {
    const r = await zscores(
      ['1.00', '1.00', '1.00', '1.00'],
      ['Château X 1998', 'Cuvée 2021 rouge', 'Lot 12021', 'Bourgogne 1850'],
    );
    expect(r.z.map((x) => x.is_vintage)).toEqual([true, true, false, false]);
  });

  it('the row-count check fails when a z-score row is missing', async () => {
    const check = await freshDb(async (db) => {
      await merged(db, ['1.00', '2.00']);
      await db.run(sql('create_wine_price_zscores'));
      await db.run('DELETE FROM wine_price_zscores WHERE product_id = 1');
      return db.one(sql('check_wine_price_zscores_row_count_matches_merged'));
    });
    expect(check).toMatchObject({ passed: false, zscore_rows: 1, merged_rows: 2 });
  });
});

describe('revenue_per_product', () => {
  async function perProduct(rows: [number, string, number][]) {
    return freshDb(async (db) => {
      await db.run(
        `CREATE TABLE merged_with_revenue (product_id BIGINT, sku VARCHAR, post_title VARCHAR, total_sales BIGINT, revenue DECIMAL(38,2))`,
      );
      for (const [id, revenue, sales] of rows)
        await db.run('INSERT INTO merged_with_revenue VALUES ($id, $sku, $t, $n, $r::DECIMAL(38,2))', {
          id,
          sku: `s${String(id)}`,
          t: `Wine ${String(id)}`,
          n: sales,
          r: revenue,
        });
      await db.run(sql('create_revenue_per_product'));
      const out = await db.rows('SELECT product_id, total_sales, revenue::VARCHAR AS revenue FROM revenue_per_product');
      const check = await db.one(sql('check_revenue_per_product_total_revenue_preserved'));
      const figures = await db.one(sql('select_revenue_per_product_figures'));
      return { out, check, figures };
    });
  }

  it('sums per product, by revenue descending then product_id, and the total is preserved', async () => {
    const r = await perProduct([
      [3, '10.00', 1],
      [1, '10.00', 2],
      [2, '5.50', 1],
      [2, '4.51', 3],
    ]);
    expect(r.out).toEqual([
      { product_id: '2', total_sales: '4', revenue: '10.01' },
      { product_id: '1', total_sales: '2', revenue: '10.00' },
      { product_id: '3', total_sales: '1', revenue: '10.00' },
    ]);
    expect(r.check).toMatchObject({ passed: true, merged_total: '30.01', per_product_total: '30.01' });
  });

  it('passes the total check on no rows (0 = 0)', async () => {
    const r = await perProduct([]);
    expect(r.out).toEqual([]);
    expect(r.check).toMatchObject({ passed: true, merged_total: '0.00' });
  });
});

describe('the wines CSV', () => {
  it('neutralises a title that looks like a formula, and keeps prices as numbers to the cent', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bn-wines-'));
    dirs.push(dir);
    const path = join(dir, 'ordinary_wines.csv');
    await freshDb(async (db) => {
      await merged(db, ['-5.00', '12.5000'], ['=HYPERLINK("http://x.example","clic")', '@SUM(A1)']);
      await db.run(sql('create_wine_price_zscores'));
      // As the asset does: the selection into a table, then the table out as CSV.
      await db.run(`CREATE TABLE ordinary_wines AS ${sql('select_wines').replace(/;\s*$/, '')}`, {
        threshold: PREMIUM_Z,
        premium: false,
      });
      await exportCsv(db, 'SELECT * FROM ordinary_wines ORDER BY price DESC, product_id', path);
    });
    const text = await readFile(path, 'utf8');
    expect(text).toContain(`'=HYPERLINK(""http://x.example"",""clic"")"`);
    expect(text).toContain(`'@SUM(A1)`);
    const lines = text.split('\n');
    expect(lines[1]).toMatch(/^2,s2,'@SUM\(A1\),12\.50,1,12\.50,instock,0\.707107,false,/);
    expect(lines[2]).toMatch(
      /^1,s1,"'=HYPERLINK\(""http:\/\/x\.example"",""clic""\)",-5\.00,1,-5\.00,instock,-0\.707107,false,/,
    );
  });
});
