import type { AssetDefinition } from '@bottleneck/shared/assets/define';
import { describe, expect, it } from 'vitest';

// The asset modules are imported inside the tests: a module that throws as it loads (an asset or a
// check declared wrong) then fails these tests, instead of failing the file's import, which a
// mutation run does not count as a failed test (README, Mutation testing).
const load = async () => ({
  ...(await import('./merged_with_revenue.js')),
});

// What merged_with_revenue declares, as the runner, the publisher and a failed check's message use
// it: which checks block the month, what is published and how, the figures, and the words a failed
// check says.

const found = (a: AssetDefinition, name: string, m: Record<string, unknown>) =>
  a.checks.find((c) => c.name === name)!.found!(m);

describe('merged_with_revenue declares', () => {
  it('its inputs, its published CSV and the query that exports it', async () => {
    const m = await load();
    expect([
      m.mergedWithRevenue.key,
      m.mergedWithRevenue.deps,
      m.mergedWithRevenue.kind,
      m.mergedWithRevenue.file,
    ]).toEqual([
      'merged_with_revenue',
      ['erp_clean', 'liaison_clean', 'web_clean'],
      'table',
      'merged_with_revenue.parquet',
    ]);
    expect([m.mergedWithRevenue.publishAs, m.mergedWithRevenue.publishSql]).toEqual([
      'merged_with_revenue.csv',
      'export_merged_with_revenue',
    ]);
    expect(m.mergedWithRevenue.description).toBe(
      'ERP join liaison on product_id join web on id_web = sku, with revenue = price x total_sales',
    );
  });

  it('three blocking checks of its own, then the four month-over-month warnings', async () => {
    const m = await load();
    expect(m.mergedWithRevenue.checks.map((c) => [c.name, c.severity, c.blocking, c.deps, c.sql ?? 'run'])).toEqual([
      ['revenue_not_null', 'ERROR', true, [], 'check_merged_with_revenue_revenue_not_null'],
      ['keys_unique', 'ERROR', true, [], 'check_merged_with_revenue_keys_unique'],
      ['row_count_matches_web', 'ERROR', true, [], 'check_merged_with_revenue_row_count_matches_web'],
      ['total_revenue_vs_previous_month', 'WARN', false, [], 'run'],
      ['product_count_vs_previous_month', 'WARN', false, [], 'run'],
      ['prices_vs_previous_month', 'WARN', false, [], 'run'],
      ['products_vs_previous_month', 'WARN', false, [], 'run'],
    ]);
    for (const c of m.mergedWithRevenue.checks) expect(c.description, c.name).toMatch(/^\S.{10,}/);
    expect(m.mergedWithRevenue.checks.slice(3).map((c) => c.description)).toEqual([
      'total revenue within BN_MOM_REVENUE_CHANGE_PCT of the last published month',
      'number of products within BN_MOM_PRODUCT_COUNT_CHANGE_PCT of the last published month',
      'no price moved by more than BN_MOM_PRICE_RATIO times since the last published month',
      'products that appeared or disappeared within BN_MOM_PRODUCTS_CHURN_PCT of the last published month',
    ]);
  });

  it('its figure: the total revenue as text', async () => {
    const m = await load();
    expect(m.mergedWithRevenue.figures!({ durationMs: 0, totalRevenue: '30012.50' })).toEqual({
      totalRevenue: '30012.50',
    });
  });
});

describe('what a failed merge check says', () => {
  it('revenue_not_null, one and several', async () => {
    const m = await load();
    expect(found(m.mergedWithRevenue, 'revenue_not_null', { nullRevenue: 1 })).toBe('1 merged row has no revenue');
    expect(found(m.mergedWithRevenue, 'revenue_not_null', { nullRevenue: '2' })).toBe('2 merged rows have no revenue');
  });

  it('keys_unique: the product_ids and the skus repeated', async () => {
    const m = await load();
    expect(found(m.mergedWithRevenue, 'keys_unique', { duplicateProductIds: 1, duplicateSkus: 0 })).toBe(
      'the merge repeats 1 product_id and 0 skus',
    );
    expect(found(m.mergedWithRevenue, 'keys_unique', { duplicateProductIds: 2, duplicateSkus: 1 })).toBe(
      'the merge repeats 2 product_ids and 1 sku',
    );
  });

  it('row_count_matches_web: merged rows against web products with an ERP match', async () => {
    const m = await load();
    expect(found(m.mergedWithRevenue, 'row_count_matches_web', { mergedRows: 1, webProductsWithErpMatch: 2 })).toBe(
      '1 merged row, but 2 web products have an ERP match',
    );
    expect(found(m.mergedWithRevenue, 'row_count_matches_web', { mergedRows: 3, webProductsWithErpMatch: 1 })).toBe(
      '3 merged rows, but 1 web product has an ERP match',
    );
  });
});
