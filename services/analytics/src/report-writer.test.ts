import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_READ_LIMITS } from '@bottleneck/shared/excel/read';
import { XlsxZip } from '@bottleneck/shared/excel/zip';
import { afterAll, describe, expect, it } from 'vitest';
import { writeRevenueReport, type ReportRow, type ReportSummary } from './report.js';
import { writeRevenueReportWithExceljs } from './report-exceljs.js';

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

/** Every entry of a zip file, name -> text, read with the pipeline's reader (which checks each entry's CRC-32, sizes and layout). */
async function unzipAll(path: string): Promise<Map<string, string>> {
  const zip = await XlsxZip.open(path, 'report.xlsx', DEFAULT_READ_LIMITS);
  try {
    const parts = new Map<string, string>();
    for (const e of zip.summary.entries) parts.set(e.name, await zip.text(e));
    await zip.verifyRest();
    return parts;
  } finally {
    await zip.close();
  }
}

const summary: ReportSummary = {
  runId: '2026-11-20261115T080000-abc123',
  partition: '2026-11',
  madeAt: '2026-11-15T08:00:07.123Z',
  totalRevenue: '30012.50',
  products: 6,
  premium: 1,
  ordinary: 5,
  unitsSold: '1203',
};

// Text that needs escaping, neutralising, whitespace kept, control characters, nulls, repeats, large and odd numbers.
const rows: ReportRow[] = [
  {
    product_id: 12,
    sku: '16004',
    post_title: 'Millésimé 2019 <"Cuvée"> & \'Co\'',
    total_sales: 1200,
    revenue: '30000.00',
  },
  { product_id: '7', sku: '=cmd', post_title: '@SUM(A1)', total_sales: '3', revenue: '12.50' },
  { product_id: 8, sku: ' lead', post_title: null, total_sales: 0, revenue: '0.00' },
  { product_id: 9, sku: 'trail ', post_title: 'two\nlines\u0001bell\u007f', total_sales: 0, revenue: '0.10' },
  {
    product_id: 10,
    sku: '16004',
    post_title: 'Millésimé 2019 <"Cuvée"> & \'Co\'',
    total_sales: 99999,
    revenue: '123456789.99',
  },
  { product_id: 11, sku: '-1', post_title: '+33 1 23', total_sales: 1, revenue: '-0.01' },
];

async function both(rs: readonly ReportRow[], s: ReportSummary) {
  const dir = await mkdtemp(join(tmpdir(), 'bn-report-writer-'));
  dirs.push(dir);
  const ours = join(dir, 'ours.xlsx');
  const theirs = join(dir, 'exceljs.xlsx');
  const written = await writeRevenueReport(ours, rs, s);
  await writeRevenueReportWithExceljs(theirs, rs, s);
  return { ours, theirs, written, dir };
}

describe('writeRevenueReport (the pipeline own writer)', () => {
  it('writes the same parts, cells, shared strings and styles as the exceljs writer it replaces', async () => {
    const { ours, theirs } = await both(rows, summary);
    const [a, b] = await Promise.all([unzipAll(ours), unzipAll(theirs)]);
    expect([...a.keys()]).toEqual([...b.keys()]);
    for (const [name, text] of b) expect({ name, text: a.get(name) }).toEqual({ name, text });
  });

  it('matches exceljs on a large report too (several flushes of the deflate stream)', async () => {
    const many: ReportRow[] = Array.from({ length: 20_000 }, (_, i) => ({
      product_id: 1000 + i,
      sku: `SKU-${i % 7000}`,
      post_title: i % 13 === 0 ? null : `Vin n°${i} & co`,
      total_sales: i % 50,
      revenue: `${i}.${String(i % 100).padStart(2, '0')}`,
    }));
    const { ours, theirs } = await both(many, { ...summary, products: many.length });
    const [a, b] = await Promise.all([unzipAll(ours), unzipAll(theirs)]);
    expect(a.get('xl/worksheets/sheet1.xml')).toBe(b.get('xl/worksheets/sheet1.xml'));
    expect(a.get('xl/sharedStrings.xml')).toBe(b.get('xl/sharedStrings.xml'));
  });

  it('returns what it wrote: the file size, the product rows, the Summary total as the cell holds it', async () => {
    const { ours, written } = await both(rows, summary);
    expect(written).toEqual({ bytes: (await readFile(ours)).length, rows: rows.length, summaryTotal: '30012.5' });
    const sheet2 = (await unzipAll(ours)).get('xl/worksheets/sheet2.xml');
    expect(sheet2).toContain(`<c r="B5" s="3"><v>${written.summaryTotal}</v></c>`);
  });

  it('refuses a run start that is not a date, and leaves no file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bn-report-writer-'));
    dirs.push(dir);
    await expect(writeRevenueReport(join(dir, 'x.xlsx'), rows, { ...summary, madeAt: 'soon' })).rejects.toThrow(
      'writeRevenueReport: madeAt is not a date: soon',
    );
    await expect(readFile(join(dir, 'x.xlsx'))).rejects.toThrow(/ENOENT/);
  });
});
