import { describe, expect, it } from 'vitest';
import type { Db } from '@bottleneck/shared/duck/index';
import { loadSql } from '@bottleneck/shared/duck/sql';
import { freshDb } from '@bottleneck/shared/testing/duck';

// The cleaning rules at the rule: each .sql beside this file run on a few hand-made raw rows.
const sql = (name: string) => loadSql(new URL(`./${name}.sql`, import.meta.url));

type WebRow = [row: number, sku: string | null, postType: string, modified: string | null, title: string];

async function rawWeb(db: Db, rows: WebRow[]) {
  await db.run(
    'CREATE TABLE raw_web (_row INTEGER, sku VARCHAR, post_type VARCHAR, post_modified TIMESTAMP, post_title VARCHAR, total_sales BIGINT)',
  );
  for (const [row, sku, type, modified, title] of rows)
    await db.run('INSERT INTO raw_web VALUES ($row, $sku, $type, $m::TIMESTAMP, $title, 1)', {
      row,
      sku,
      type,
      m: modified,
      title,
    });
}

async function webClean(rows: WebRow[]) {
  return freshDb(async (db) => {
    await rawWeb(db, rows);
    await db.run(sql('create_web_clean'));
    const clean = await db.rows('SELECT sku, post_title FROM web_clean ORDER BY sku');
    const single = await db.one(sql('check_web_clean_sku_single_version'));
    const unique = await db.one(sql('check_web_clean_sku_unique'));
    const notNull = await db.one(sql('check_web_clean_sku_not_null'));
    return { clean, single, unique, notNull };
  });
}

describe('web_clean', () => {
  it('keeps product rows with a sku only: attachments, other post types and blank skus are dropped; skus trimmed', async () => {
    const r = await webClean([
      [2, ' 16004 ', 'product', '2026-11-01 10:00:00', 'Wine A'],
      [3, '16004', 'attachment', '2026-11-01 10:00:00', 'image of A'],
      [4, '16005', 'product_variation', '2026-11-01 10:00:00', 'variation'],
      [5, '   ', 'product', '2026-11-01 10:00:00', 'blank sku'],
      [6, null, 'product', '2026-11-01 10:00:00', 'no sku'],
      [7, 'bon-cadeau-25-euros', ' product ', '2026-11-01 10:00:00', 'Gift'],
    ]);
    expect(r.clean).toEqual([
      { sku: '16004', post_title: 'Wine A' },
      { sku: 'bon-cadeau-25-euros', post_title: 'Gift' },
    ]);
    expect(r.single).toMatchObject({ passed: true, older_versions_dropped: [] });
    expect(r.unique).toMatchObject({ passed: true });
    expect(r.notNull).toMatchObject({ passed: true, null_count: 0 });
  });

  it('collapses exact duplicate rows without a warning', async () => {
    const r = await webClean([
      [2, '16004', 'product', '2026-11-01 10:00:00', 'Wine A'],
      [3, '16004', 'product', '2026-11-01 10:00:00', 'Wine A'],
    ]);
    expect(r.clean).toEqual([{ sku: '16004', post_title: 'Wine A' }]);
    expect(r.single).toMatchObject({ passed: true });
  });

  it('keeps the most recent post_modified of a sku with unequal dates, whatever the row order, and lists the older one', async () => {
    for (const [older, newer] of [
      [2, 3],
      [3, 2],
    ] as const) {
      const r = await webClean([
        [older, '16004', 'product', '2026-11-01 10:00:00', 'old title'],
        [newer, '16004', 'product', '2026-11-02 09:00:00', 'new title'],
      ]);
      expect(r.clean).toEqual([{ sku: '16004', post_title: 'new title' }]);
      expect(r.single).toMatchObject({
        passed: false,
        older_versions_dropped: [{ sku: '16004', row: older, post_modified: '2026-11-01 10:00:00' }],
      });
      expect(r.unique).toMatchObject({ passed: true });
    }
  });

  it('keeps the first row in the file of a sku with equal dates (a tie), and lists the other; a missing date loses', async () => {
    const tie = await webClean([
      [5, '16004', 'product', '2026-11-01 10:00:00', 'second in file'],
      [4, '16004', 'product', '2026-11-01 10:00:00', 'first in file'],
    ]);
    expect(tie.clean).toEqual([{ sku: '16004', post_title: 'first in file' }]);
    expect(tie.single).toMatchObject({ passed: false, older_versions_dropped: [{ sku: '16004', row: 5 }] });
    const undated = await webClean([
      [2, '16004', 'product', null, 'undated'],
      [3, '16004', 'product', '2020-01-01 00:00:00', 'dated'],
    ]);
    expect(undated.clean).toEqual([{ sku: '16004', post_title: 'dated' }]);
  });
});

describe('erp_clean and its checks', () => {
  type ErpRow = [id: number | null, onsale: number, price: string | null, stock: number, status: string];
  async function erp(rows: ErpRow[], liaison: [number, string | null][] = []) {
    return freshDb(async (db) => {
      await db.run(
        'CREATE TABLE raw_erp (product_id BIGINT, onsale_web BIGINT, price DECIMAL(18,4), stock_quantity BIGINT, stock_status VARCHAR)',
      );
      for (const [id, onsale, price, stock, status] of rows)
        await db.run('INSERT INTO raw_erp VALUES ($id, $o, $p::DECIMAL(18,4), $s, $st)', {
          id,
          o: onsale,
          p: price,
          s: stock,
          st: status,
        });
      await db.run('CREATE TABLE raw_liaison (product_id BIGINT, id_web VARCHAR)');
      for (const [id, web] of liaison) await db.run('INSERT INTO raw_liaison VALUES ($id, $w)', { id, w: web });
      await db.run(sql('create_erp_clean'));
      await db.run(sql('create_liaison_clean'));
      const checks: Record<string, unknown> = {};
      for (const c of [
        'product_id_not_null',
        'product_id_unique',
        'price_not_negative',
        'stock_not_negative',
        'erp_products_mapped',
      ])
        checks[c] = await db.one(sql(`check_erp_clean_${c}`));
      for (const c of ['product_id_not_null', 'product_id_unique'])
        checks[`liaison.${c}`] = await db.one(sql(`check_liaison_clean_${c}`));
      const rowsOut = await db.rows('SELECT product_id, price::VARCHAR AS price FROM erp_clean');
      const liaisonOut = await db.rows('SELECT product_id, id_web FROM liaison_clean');
      return { rows: rowsOut, liaison: liaisonOut, checks };
    });
  }

  it('drops rows without product_id and exact duplicates; a product_id twice with other data fails product_id_unique', async () => {
    const r = await erp([
      [1, 1, '10.0000', 5, 'instock'],
      [1, 1, '10.0000', 5, 'instock'],
      [null, 1, '3.0000', 1, 'instock'],
      [2, 0, '7.5000', 0, 'outofstock'],
      [2, 0, '7.5100', 0, 'outofstock'],
    ]);
    expect(r.rows).toEqual([
      { product_id: '1', price: '10.0000' },
      { product_id: '2', price: '7.5000' },
      { product_id: '2', price: '7.5100' },
    ]);
    expect(r.checks.product_id_not_null).toMatchObject({ passed: true, null_count: 0 });
    expect(r.checks.product_id_unique).toMatchObject({ passed: false, duplicate_product_ids: ['2'] });
  });

  it('warns on negative prices and stock (zero is fine), and a null price is not negative', async () => {
    const r = await erp([
      [1, 0, '-0.0100', 0, 'instock'],
      [2, 0, '0.0000', -1, 'instock'],
      [3, 0, null, 0, 'instock'],
      [4, 0, '5.0000', 0, 'instock'],
    ]);
    expect(r.checks.price_not_negative).toMatchObject({ passed: false, product_ids: ['1'] });
    expect(r.checks.stock_not_negative).toMatchObject({ passed: false, product_ids: ['2'] });
    const ok = await erp([[4, 0, '0.0000', 0, 'instock']]);
    expect(ok.checks.price_not_negative).toMatchObject({ passed: true, product_ids: [] });
    expect(ok.checks.stock_not_negative).toMatchObject({ passed: true });
  });

  it('gates products on sale online without a liaison row; liaison keys trimmed, blank id_web kept as null, duplicates dropped', async () => {
    const r = await erp(
      [
        [1, 1, '10.0000', 5, 'instock'],
        [2, 1, '10.0000', 5, 'instock'],
        [3, 0, '10.0000', 5, 'instock'],
      ],
      [
        [1, ' 16004 '],
        [1, '16004'],
        [3, '  '],
      ],
    );
    expect(r.liaison).toEqual([
      { product_id: '1', id_web: '16004' },
      { product_id: '3', id_web: null },
    ]);
    expect(r.checks.erp_products_mapped).toMatchObject({ passed: false, onsale_product_ids_without_liaison: ['2'] });
    expect(r.checks['liaison.product_id_unique']).toMatchObject({ passed: true });
  });
});
