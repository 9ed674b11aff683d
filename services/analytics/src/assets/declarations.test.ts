import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AssetContext, AssetDefinition } from '@bottleneck/shared/assets/define';
import { afterAll, describe, expect, it } from 'vitest';

// The asset modules are imported inside the tests: a module that throws as it loads (an asset or a
// check declared wrong) then fails these tests, instead of failing the file's import, which a
// mutation run does not count as a failed test (README, Mutation testing).
const load = async () => ({
  ...(await import('./revenue_per_product.js')),
  ...(await import('./revenue_report.js')),
  ...(await import('./wine_price_zscores.js')),
  ...(await import('./wines.js')),
});

// What the analytics assets declare, as the runner, the publisher and a failed check's message use
// it: inputs, the files published, the checks (all blocking), the figures, and the words.

const found = (a: AssetDefinition, name: string, m: Record<string, unknown>) =>
  a.checks.find((c) => c.name === name)!.found!(m);
const checks = (a: AssetDefinition) => a.checks.map((c) => [c.name, c.severity, c.blocking, c.deps, c.sql ?? 'run']);

describe('the analytics assets declare', () => {
  it('premium above a z of 2, ordinary at or below it', async () => {
    const m = await load();
    expect(m.PREMIUM_Z).toBe(2);
    expect(m.premiumWines.description).toBe('wines with z > 2, by price descending then product_id');
    expect(m.ordinaryWines.description).toBe('wines with z <= 2, by price descending then product_id');
  });

  it('their inputs and the files published', async () => {
    const m = await load();
    const shape = (a: AssetDefinition) => [a.key, a.deps, a.kind, a.file, a.publishAs];
    expect(
      [m.revenuePerProduct, m.winePriceZscores, m.premiumWines, m.ordinaryWines, m.revenueReport].map(shape),
    ).toEqual([
      ['revenue_per_product', ['merged_with_revenue'], 'table', 'revenue_per_product.parquet', undefined],
      ['wine_price_zscores', ['merged_with_revenue'], 'table', 'wine_price_zscores.parquet', undefined],
      ['premium_wines', ['wine_price_zscores'], 'file', 'premium_wines.csv', 'premium_wines.csv'],
      ['ordinary_wines', ['wine_price_zscores'], 'file', 'ordinary_wines.csv', 'ordinary_wines.csv'],
      [
        'revenue_report',
        ['revenue_per_product', 'premium_wines', 'ordinary_wines'],
        'file',
        'revenue_per_product.xlsx',
        'revenue_per_product.xlsx',
      ],
    ]);
    expect(m.revenuePerProduct.description).toBe('revenue per product, by revenue descending then product_id');
    expect(m.winePriceZscores.description).toBe('z-score of price over the merged rows (sample standard deviation)');
    expect(m.revenueReport.description).toBe('workbook: sheet "Revenue by Product" and sheet "Summary"');
  });

  it('their checks, all blocking', async () => {
    const m = await load();
    expect(
      [m.revenuePerProduct, m.winePriceZscores, m.premiumWines, m.ordinaryWines, m.revenueReport].map(checks),
    ).toEqual([
      [['total_revenue_preserved', 'ERROR', true, [], 'check_revenue_per_product_total_revenue_preserved']],
      [['row_count_matches_merged', 'ERROR', true, [], 'check_wine_price_zscores_row_count_matches_merged']],
      [['premium_plus_ordinary_is_merged', 'ERROR', true, ['ordinary_wines', 'merged_with_revenue'], 'run']],
      [],
      [['summary_total_matches', 'ERROR', true, [], 'run']],
    ]);
    expect(
      [m.revenuePerProduct, m.winePriceZscores, m.premiumWines, m.revenueReport].map((a) => a.checks[0]!.description),
    ).toEqual([
      'sum of revenue equals the total of merged_with_revenue',
      'one z-score per merged row',
      'premium + ordinary = merged rows',
      'Summary total revenue equals the sum of revenue_per_product',
    ]);
  });

  it('the figures: premium and ordinary counts from the rows written', async () => {
    const m = await load();
    expect(m.premiumWines.figures!({ durationMs: 0, rowCount: 3 })).toEqual({ premium: 3 });
    expect(m.ordinaryWines.figures!({ durationMs: 0, rowCount: 7 })).toEqual({ ordinary: 7 });
  });
});

describe('what a failed analytics check says', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bn-wines-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('total_revenue_preserved', async () => {
    const m = await load();
    expect(
      found(m.revenuePerProduct, 'total_revenue_preserved', { perProductTotal: '10.00', mergedTotal: '10.01' }),
    ).toBe('the revenue per product sums to 10.00, the merged rows to 10.01');
  });

  it('row_count_matches_merged, one and several', async () => {
    const m = await load();
    expect(found(m.winePriceZscores, 'row_count_matches_merged', { zscoreRows: 1, mergedRows: 2 })).toBe(
      '1 z-score for 2 merged rows',
    );
    expect(found(m.winePriceZscores, 'row_count_matches_merged', { zscoreRows: '2', mergedRows: '1' })).toBe(
      '2 z-scores for 1 merged row',
    );
  });

  it('premium_plus_ordinary_is_merged: the sum beside the merged rows', async () => {
    const m = await load();
    expect(found(m.premiumWines, 'premium_plus_ordinary_is_merged', { premium: 2, ordinary: 5, mergedRows: 8 })).toBe(
      '2 premium + 5 ordinary = 7, not the 8 merged rows',
    );
  });

  it('premium_plus_ordinary_is_merged counts the CSVs as written against the merged rows', async () => {
    const m = await load();
    const check = m.premiumWines.checks[0]!;
    // The files as written: a header, then rows; a title with a line end inside its quotes is one row.
    const rows = (n: number) =>
      [
        '\ufeffproduct_id,post_title,price',
        ...Array.from({ length: n }, (_, i) => `${i},"Ch\u00e2teau ""${i}""\nligne 2",24.20`),
      ]
        .join('\n')
        .concat('\n');
    writeFileSync(join(dir, 'premium_wines.csv'), rows(2));
    writeFileSync(join(dir, 'ordinary_wines.csv'), rows(5));
    const ctx = (mergedRows: number) =>
      ({
        inputFile: (k: string) => Promise.resolve(join(dir, `${k}.csv`)),
        materialization: (k: string) => ({ metadata: k === 'merged_with_revenue' ? { rowCount: mergedRows } : {} }),
      }) as unknown as AssetContext;
    await expect(check.run!(ctx(7))).resolves.toEqual({
      passed: true,
      metadata: { premium: 2, ordinary: 5, mergedRows: 7 },
    });
    expect((await check.run!(ctx(8))).passed).toBe(false);
  });
});
