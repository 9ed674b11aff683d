import { describe, expect, it } from 'vitest';
import { loadSql } from '@bottleneck/shared/duck/sql';
import { freshDb } from '@bottleneck/shared/testing/duck';

// The merge rules at the rule: each .sql beside this file run on a few hand-made clean rows.
const sql = (name: string) => loadSql(new URL(`./${name}.sql`, import.meta.url));

type Erp = [id: number, price: string | null];
type Web = [sku: string, sales: number];

async function merge(erp: Erp[], liaison: [number, string | null][], web: Web[]) {
  return freshDb(async (db) => {
    await db.run(
      'CREATE TABLE erp_clean (product_id BIGINT, onsale_web BIGINT, price DECIMAL(18,4), stock_quantity BIGINT, stock_status VARCHAR)',
    );
    for (const [id, price] of erp)
      await db.run("INSERT INTO erp_clean VALUES ($id, 1, $p::DECIMAL(18,4), 1, 'instock')", { id, p: price });
    await db.run('CREATE TABLE liaison_clean (product_id BIGINT, id_web VARCHAR)');
    for (const [id, w] of liaison) await db.run('INSERT INTO liaison_clean VALUES ($id, $w)', { id, w });
    await db.run('CREATE TABLE web_clean (sku VARCHAR, total_sales BIGINT, post_title VARCHAR)');
    for (const [sku, n] of web)
      await db.run('INSERT INTO web_clean VALUES ($s, $n, $t)', { s: sku, n, t: `Wine ${sku}` });
    await db.run(sql('create_merged_with_revenue'));
    const rows = await db.rows(
      'SELECT product_id, sku, price::VARCHAR AS price, total_sales, revenue::VARCHAR AS revenue FROM merged_with_revenue',
    );
    const columns = (await db.columns('merged_with_revenue')).map((c) => `${c.name} ${c.type}`);
    const total = await db.one(sql('select_merged_with_revenue_total'));
    const checks = {
      revenueNotNull: await db.one(sql('check_merged_with_revenue_revenue_not_null')),
      keysUnique: await db.one(sql('check_merged_with_revenue_keys_unique')),
      rowCount: await db.one(sql('check_merged_with_revenue_row_count_matches_web')),
    };
    return { rows, columns, total, checks };
  });
}

describe('merged_with_revenue', () => {
  it('joins ERP to liaison on product_id and liaison to web on id_web = sku (inner joins), each column once', async () => {
    const r = await merge(
      [
        [1, '10.0000'],
        [2, '20.0000'],
        [3, '30.0000'],
      ],
      [
        [1, '16004'],
        [2, null],
        [3, 'gone'],
      ],
      [
        ['16004', 2],
        ['99999', 1],
      ],
    );
    expect(r.rows).toEqual([{ product_id: '1', sku: '16004', price: '10.0000', total_sales: '2', revenue: '20.00' }]);
    expect(r.columns).toEqual([
      'product_id BIGINT',
      'sku VARCHAR',
      'onsale_web BIGINT',
      'price DECIMAL(18,4)',
      'stock_quantity BIGINT',
      'stock_status VARCHAR',
      'total_sales BIGINT',
      'post_title VARCHAR',
      'revenue DECIMAL(38,2)',
    ]);
    expect(r.checks.rowCount).toMatchObject({ passed: true, merged_rows: 1, web_products_with_erp_match: 1 });
    expect(r.checks.keysUnique).toMatchObject({ passed: true });
  });

  it('rounds revenue to the cent, half away from zero, in DECIMAL: .005 goes up, .0049 down', async () => {
    const r = await merge(
      [
        [1, '0.3350'],
        [2, '2.0050'],
        [3, '1.0049'],
        [4, '0.1000'],
        [5, '-2.0050'],
      ],
      [
        [1, 'a'],
        [2, 'b'],
        [3, 'c'],
        [4, 'd'],
        [5, 'e'],
      ],
      [
        ['a', 3],
        ['b', 1],
        ['c', 1],
        ['d', 3],
        ['e', 1],
      ],
    );
    expect(r.rows.map((x) => x.revenue)).toEqual(['1.01', '2.01', '1.00', '0.30', '-2.01']);
    // The total is the sum of the rounded revenues, exact.
    expect(r.total).toMatchObject({ total_revenue: '2.31' });
  });

  it('a null price gives a null revenue, which the blocking revenue_not_null check catches', async () => {
    const r = await merge([[1, null]], [[1, 'a']], [['a', 2]]);
    expect(r.rows).toEqual([{ product_id: '1', sku: 'a', price: null, total_sales: '2', revenue: null }]);
    expect(r.checks.revenueNotNull).toMatchObject({ passed: false, null_revenue: 1 });
  });

  it('a sku mapped from two products fails keys_unique', async () => {
    const r = await merge(
      [
        [1, '1.0000'],
        [2, '2.0000'],
      ],
      [
        [1, 'a'],
        [2, 'a'],
      ],
      [['a', 1]],
    );
    expect(r.checks.keysUnique).toMatchObject({ passed: false, duplicate_product_ids: 0, duplicate_skus: 1 });
    expect(r.checks.rowCount).toMatchObject({ passed: false, merged_rows: 2, web_products_with_erp_match: 1 });
  });
});
