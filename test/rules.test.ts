import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runEmbedded, type RunSummary } from '../cli/src/embedded.js';
import { writeWorkbook } from '../shared/src/testing/workbook.js';
import { SOURCES } from '../shared/src/sources.js';
import { cleanupTmp, publishedPath, tmp } from './helpers.js';

// A tiny month that exercises every cleaning, merge and analytics rule, small enough to check by hand.
const WEB_COLS = SOURCES.web.columns.map((c) => c.name);
function webRow(v: Record<string, unknown>): unknown[] {
  const base: Record<string, unknown> = {
    virtual: 0,
    downloadable: 0,
    rating_count: 0,
    average_rating: 0,
    total_sales: 0,
    tax_status: 'taxable',
    post_author: 2,
    post_date: new Date(Date.UTC(2020, 0, 1)),
    post_date_gmt: new Date(Date.UTC(2020, 0, 1)),
    post_status: 'publish',
    comment_status: 'closed',
    ping_status: 'closed',
    post_modified: new Date(Date.UTC(2020, 5, 1)),
    post_modified_gmt: new Date(Date.UTC(2020, 5, 1)),
    post_parent: 0,
    menu_order: 0,
    comment_count: 0,
    post_type: 'product',
  };
  const r = { ...base, ...v };
  return WEB_COLS.map((c) => (r[c] === undefined ? null : r[c]));
}
const product = (sku: unknown, title: string, sales: number, extra: Record<string, unknown> = {}) =>
  webRow({
    sku,
    post_title: title,
    post_name: String(title).toLowerCase(),
    total_sales: sales,
    guid: `https://shop.example/?p=${String(sku).trim()}`,
    ...extra,
  });
const attachment = (sku: unknown, title: string, sales: number) =>
  webRow({
    sku,
    post_title: title,
    total_sales: sales,
    post_type: 'attachment',
    post_mime_type: 'image/jpeg',
    guid: `https://shop.example/img/${String(sku)}.jpg`,
  });

const ERP = [
  ['product_id', 'onsale_web', 'price', 'stock_quantity', 'stock_status'],
  [1, 1, 10.1, 5, 'instock'],
  [2, 1, 10, 0, 'outofstock'],
  [2, 1, 10, 0, 'outofstock'], // exact duplicate: dropped
  [3, 1, 0.1, 7, 'instock'],
  [null, 1, 99, 1, 'instock'], // no product_id: dropped
  [4, 1, 10, 3, 'instock'],
  [5, 1, 10, 3, 'instock'],
  [6, 1, 10, 3, 'instock'],
  [7, 1, 10, 3, 'instock'],
  [8, 1, 100, 1, 'instock'],
  [9, 0, 25, 4, 'instock'], // not sold online
];
const WEB = [
  WEB_COLS,
  product(101, 'Domaine Un 2019', 2),
  attachment(101, 'Domaine Un 2019', 2),
  product(' 102 ', 'Domaine Deux', 1), // sku with spaces; liaison holds it as a number
  attachment(102, 'Domaine Deux', 1),
  product('103', 'Cuvée Trois 2015', 3, { post_modified: new Date(Date.UTC(2020, 7, 1)) }),
  product('103', 'Cuvée Trois 2015', 9, { post_modified: new Date(Date.UTC(2019, 1, 1)) }), // older version: dropped
  product(104, '=HYPERLINK("http://evil.example","click")', 1),
  product(104, '=HYPERLINK("http://evil.example","click")', 1), // exact duplicate
  product(105, 'Cinq', 0),
  product(106, '@Six', 0),
  product(107, 'Sept', 0),
  product(108, 'Grand Cru Huit 2010', 4),
  attachment(108, 'Grand Cru Huit 2010', 4),
  [null, 0, 0, 0], // blank row but for a few zero columns
  product(null, 'No sku', 5),
];
const LIAISON = [
  ['product_id', 'id_web'],
  [1, '101'],
  [1, '101'],
  [2, 102],
  [3, ' 103'],
  [4, '104'],
  [5, '105'],
  [6, '106'],
  [7, '107'],
  [8, '108'],
  [9, null],
];

let out: string;
let s: RunSummary;
const csv = async (name: string) =>
  (await readFile(await publishedPath(out, '2026-10', name), 'utf8'))
    .replace(/^\ufeff/, '')
    .trim()
    .split('\n');

beforeAll(async () => {
  const input = await tmp('bn-rules-in-');
  out = await tmp('bn-rules-out-');
  await writeWorkbook(join(input, 'erp.xlsx'), [{ name: 'Sheet1', rows: ERP }]);
  await writeWorkbook(join(input, 'web.xlsx'), [{ name: 'Sheet1', rows: WEB }]);
  await writeWorkbook(join(input, 'liaison.xlsx'), [{ name: 'Sheet1', rows: LIAISON }]);
  s = await runEmbedded({ input, out, partition: '2026-10' });
});
afterAll(cleanupTmp);

describe('cleaning rules', () => {
  it('drops rows without product_id and exact duplicates from the ERP', () => {
    expect(s.status).toBe('succeeded');
    expect(s.rowCounts.erp_clean).toBe(9);
  });

  it('keeps web product rows with a sku, drops attachments, blanks and duplicates, keeps the latest version of a sku', async () => {
    expect(s.rowCounts.web_clean).toBe(8);
    const single = s.checks.find((c) => c.check === 'sku_single_version')!;
    expect(single).toMatchObject({ asset: 'web_clean', passed: false, severity: 'WARN' });
    expect(single.metadata.olderVersionsDropped).toEqual([
      { sku: '103', row: 7, post_modified: '2019-02-01 00:00:00' },
    ]);
    const merged = await csv('merged_with_revenue.csv');
    const row103 = merged.find((l) => l.startsWith('3,103,'))!;
    expect(row103).toContain(',3,'); // total_sales of the latest version
  });

  it('keeps liaison rows without id_web and drops exact duplicates', () => {
    expect(s.rowCounts.liaison_clean).toBe(9);
  });

  it('matches id_web and sku as trimmed text', () => {
    expect(s.rowCounts.merged_with_revenue).toBe(8);
  });
});

describe('merge and revenue', () => {
  it('computes revenue exactly, to the cent, and sums it without drift', async () => {
    const merged = await csv('merged_with_revenue.csv');
    const header = merged[0]!.split(',');
    expect(header.filter((h) => h === 'product_id' || h === 'sku')).toEqual(['product_id', 'sku']);
    expect(header).not.toContain('id_web');
    expect(header.at(-1)).toBe('revenue');
    expect(merged.find((l) => l.startsWith('3,103,'))!.endsWith(',0.30')).toBe(true);
    // 10.10*2 + 10*1 + 0.1*3 + 10*1 + 100*4 = 440.50
    expect(s.totalRevenue).toBe('440.50');
  });
});

describe('analytics', () => {
  it('z-scores price with the sample standard deviation; premium when z > 2', async () => {
    expect(s.premium).toBe(1);
    expect(s.ordinary).toBe(7);
    const premium = await csv('premium_wines.csv');
    expect(premium[0]).toBe('product_id,sku,post_title,price,total_sales,revenue,stock_status,z_score,is_vintage,guid');
    const prices = [10.1, 10, 0.1, 10, 10, 10, 10, 100];
    const mean = prices.reduce((a, b) => a + b) / prices.length;
    const sd = Math.sqrt(prices.reduce((a, p) => a + (p - mean) ** 2, 0) / (prices.length - 1));
    const cells = premium[1]!.split(',');
    expect(cells.slice(0, 7)).toEqual(['8', '108', 'Grand Cru Huit 2010', '100.00', '4', '400.00', 'instock']);
    expect(cells[7]).toBe(((100 - mean) / sd).toFixed(6));
    expect(cells[8]).toBe('true');
  });

  it('sorts by price descending, ties by product_id', async () => {
    const ids = (await csv('ordinary_wines.csv')).slice(1).map((l) => Number(l.split(',')[0]));
    expect(ids).toEqual([1, 2, 4, 5, 6, 7, 3]);
  });

  it('neutralises formula-like text in CSV and XLSX; numbers stay numbers', async () => {
    const ordinary = await csv('ordinary_wines.csv');
    const evil = ordinary.find((l) => l.startsWith('4,104,'))!;
    expect(evil).toContain(`"'=HYPERLINK(""http://evil.example"",""click"")"`);
    expect(ordinary.find((l) => l.startsWith('6,106,'))).toContain(",'@Six,");
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(await publishedPath(out, '2026-10', 'revenue_per_product.xlsx'));
    const sheet = wb.getWorksheet('Revenue by Product')!;
    const titles: unknown[] = [];
    sheet.eachRow((row) => titles.push(row.getCell(3).value));
    expect(titles).toContain(`'=HYPERLINK("http://evil.example","click")`);
    sheet.eachRow((row) => expect(row.getCell(3).formula).toBeUndefined());
    expect(typeof sheet.getRow(2).getCell(5).value).toBe('number');
  });

  it('records the warnings computed from the data', () => {
    const failed = s.checks
      .filter((c) => !c.passed)
      .map((c) => `${c.asset}.${c.check}`)
      .sort();
    expect(failed).toEqual(['web_clean.sku_single_version']);
  });
});
