import type { AssetContext, AssetDefinition } from '@bottleneck/shared/assets/define';
import { describe, expect, it } from 'vitest';

// The asset modules are imported inside the tests: a module that throws as it loads (an asset or a
// check declared wrong) then fails these tests, instead of failing the file's import, which a
// mutation run does not count as a failed test (README, Mutation testing).
const load = async () => ({
  ...(await import('./clean.js')),
  ...(await import('./erp_clean.js')),
  ...(await import('./liaison_clean.js')),
  ...(await import('./web_clean.js')),
});

// What the clean assets declare, as the runner, the console and a failed check's message use it:
// which checks block the month, which are cross-asset, and the words a failed check says.

/** Each check as [name, severity, blocking, deps, sql]. */
const table = (a: AssetDefinition) => a.checks.map((c) => [c.name, c.severity, c.blocking, c.deps, c.sql ?? 'run']);
const found = (a: AssetDefinition, name: string, m: Record<string, unknown>) =>
  a.checks.find((c) => c.name === name)!.found!(m);

describe('the clean assets declare', () => {
  it('erp_clean: its checks, the two on product_id blocking, the mapping cross-asset', async () => {
    const m = await load();
    expect([m.erpClean.key, m.erpClean.deps, m.erpClean.kind, m.erpClean.file]).toEqual([
      'erp_clean',
      ['raw_erp'],
      'table',
      'erp_clean.parquet',
    ]);
    expect(table(m.erpClean)).toEqual([
      ['product_id_not_null', 'ERROR', true, [], 'check_erp_clean_product_id_not_null'],
      ['product_id_unique', 'ERROR', true, [], 'check_erp_clean_product_id_unique'],
      ['price_not_negative', 'WARN', false, [], 'check_erp_clean_price_not_negative'],
      ['stock_not_negative', 'WARN', false, [], 'check_erp_clean_stock_not_negative'],
      ['erp_products_mapped', 'WARN', false, ['liaison_clean'], 'check_erp_clean_erp_products_mapped'],
      ['expected_sheet_present', 'WARN', false, [], 'run'],
    ]);
  });

  it('liaison_clean: its checks, the id_web one cross-asset against web_clean', async () => {
    const m = await load();
    expect([m.liaisonClean.key, m.liaisonClean.deps, m.liaisonClean.kind]).toEqual([
      'liaison_clean',
      ['raw_liaison'],
      'table',
    ]);
    expect(table(m.liaisonClean)).toEqual([
      ['product_id_not_null', 'ERROR', true, [], 'check_liaison_clean_product_id_not_null'],
      ['product_id_unique', 'ERROR', true, [], 'check_liaison_clean_product_id_unique'],
      ['id_web_matches_web', 'WARN', false, ['web_clean'], 'check_liaison_clean_id_web_matches_web'],
      ['expected_sheet_present', 'WARN', false, [], 'run'],
    ]);
  });

  it('web_clean: its checks, the sku ones blocking', async () => {
    const m = await load();
    expect([m.webClean.key, m.webClean.deps, m.webClean.kind]).toEqual(['web_clean', ['raw_web'], 'table']);
    expect(table(m.webClean)).toEqual([
      ['sku_not_null', 'ERROR', true, [], 'check_web_clean_sku_not_null'],
      ['sku_unique', 'ERROR', true, [], 'check_web_clean_sku_unique'],
      ['sku_single_version', 'WARN', false, [], 'check_web_clean_sku_single_version'],
      ['expected_sheet_present', 'WARN', false, [], 'run'],
    ]);
  });

  it('a description for every asset and every check (the console and the catalog show them)', async () => {
    const m = await load();
    for (const a of [m.erpClean, m.liaisonClean, m.webClean]) {
      expect(a.description, a.key).toMatch(/^\S.{10,}/);
      for (const c of a.checks) expect(c.description, `${a.key}.${c.name}`).toMatch(/^\S.{5,}/);
    }
    expect(m.erpClean.description).toBe('ERP rows with a product_id, exact duplicates dropped');
    expect(m.liaisonClean.description).toBe('ERP-web mapping, exact duplicates dropped, rows without id_web kept');
    expect(m.webClean.description).toBe(
      'web products (post_type = product, sku present), exact duplicates dropped, latest post_modified kept per sku',
    );
  });
});

describe('what a failed clean check says', () => {
  it('erp_clean, one and several', async () => {
    const m = await load();
    expect(found(m.erpClean, 'product_id_not_null', { nullCount: 1 })).toBe('1 row has no product_id');
    expect(found(m.erpClean, 'product_id_not_null', { nullCount: '3' })).toBe('3 rows have no product_id');
    expect(found(m.erpClean, 'product_id_unique', { duplicateProductIds: ['7'] })).toBe(
      '1 product_id appears twice with different data: 7',
    );
    expect(found(m.erpClean, 'product_id_unique', { duplicateProductIds: ['7', '9'] })).toBe(
      '2 product_ids appear twice with different data: 7, 9',
    );
    expect(found(m.erpClean, 'price_not_negative', { productIds: ['5017'] })).toBe(
      '1 product has a negative price: 5017',
    );
    expect(found(m.erpClean, 'price_not_negative', { productIds: ['5017', '6594'] })).toBe(
      '2 products have a negative price: 5017, 6594',
    );
    expect(found(m.erpClean, 'stock_not_negative', { productIds: ['4'] })).toBe(
      '1 product has a negative stock_quantity: 4',
    );
    expect(found(m.erpClean, 'stock_not_negative', { productIds: ['4', '5'] })).toBe(
      '2 products have a negative stock_quantity: 4, 5',
    );
    expect(found(m.erpClean, 'erp_products_mapped', { onsaleProductIdsWithoutLiaison: ['8'] })).toBe(
      '1 ERP product on sale online has no liaison row: 8',
    );
    expect(found(m.erpClean, 'erp_products_mapped', { onsaleProductIdsWithoutLiaison: ['8', '9'] })).toBe(
      '2 ERP products on sale online have no liaison row: 8, 9',
    );
  });

  it('liaison_clean, one and several', async () => {
    const m = await load();
    expect(found(m.liaisonClean, 'product_id_not_null', { nullCount: 1 })).toBe('1 liaison row has no product_id');
    expect(found(m.liaisonClean, 'product_id_not_null', { nullCount: 2 })).toBe('2 liaison rows have no product_id');
    expect(found(m.liaisonClean, 'product_id_unique', { duplicateProductIds: [3] })).toBe(
      '1 product_id is mapped twice: 3',
    );
    expect(found(m.liaisonClean, 'product_id_unique', { duplicateProductIds: [3, 4] })).toBe(
      '2 product_ids are mapped twice: 3, 4',
    );
    expect(found(m.liaisonClean, 'id_web_matches_web', { idWebWithoutWebProduct: ['w1'] })).toBe(
      '1 liaison id_web names no web product: w1',
    );
    expect(found(m.liaisonClean, 'id_web_matches_web', { idWebWithoutWebProduct: ['w1', 'w2'] })).toBe(
      '2 liaison id_webs name no web product: w1, w2',
    );
  });

  it('web_clean, one and several, the dropped older versions named with their row and date', async () => {
    const m = await load();
    expect(found(m.webClean, 'sku_not_null', { nullCount: 1 })).toBe('1 web product has no sku');
    expect(found(m.webClean, 'sku_not_null', { nullCount: 2 })).toBe('2 web products have no sku');
    expect(found(m.webClean, 'sku_unique', { duplicateSkus: ['a'] })).toBe('1 sku appears more than once: a');
    expect(found(m.webClean, 'sku_unique', { duplicateSkus: ['a', 'b'] })).toBe('2 skus appear more than once: a, b');
    const one = { sku: '103', row: 7, post_modified: '2019-02-01 00:00:00' };
    expect(found(m.webClean, 'sku_single_version', { olderVersionsDropped: [one] })).toBe(
      "1 older product row was dropped, keeping each sku's most recent post_modified: 103 (row 7, 2019-02-01 00:00:00)",
    );
    expect(
      found(m.webClean, 'sku_single_version', {
        olderVersionsDropped: [one, { sku: '9', row: 12, post_modified: '2020-01-01 00:00:00' }],
      }),
    ).toBe(
      "2 older product rows were dropped, keeping each sku's most recent post_modified: 103 (row 7, 2019-02-01 00:00:00), 9 (row 12, 2020-01-01 00:00:00)",
    );
    // Absent metadata: none listed, no crash.
    expect(found(m.webClean, 'sku_single_version', {})).toBe(
      "0 older product rows were dropped, keeping each sku's most recent post_modified: ",
    );
  });
});

describe('expected_sheet_present', () => {
  const ctxWith = (metadata: Record<string, unknown>) =>
    ({
      asset: { key: 'erp_clean' },
      materialization: (k: string) => (k === 'erp_clean' ? { metadata } : { metadata: {} }),
    }) as unknown as AssetContext;

  it('passes when the expected sheet was read, naming it', async () => {
    const m = await load();
    expect(m.expectedSheetPresent(ctxWith({ sheet: 'Sheet1' }))).toEqual({
      passed: true,
      metadata: { sheetRead: 'Sheet1' },
    });
  });

  it('fails naming the sheet expected and the only worksheet read instead', async () => {
    const m = await load();
    expect(
      m.expectedSheetPresent(ctxWith({ sheet: 'Export', sheetFallback: { expected: 'Sheet1', read: 'Export' } })),
    ).toEqual({
      passed: false,
      metadata: { expected: 'Sheet1', sheetRead: 'Export' },
      message: 'no sheet "Sheet1": its only worksheet, "Export", was read',
    });
  });
});
