import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { readSummary, SUMMARY_LABELS, writeRevenueReport, type ReportSummary } from './report.js';

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
afterEach(() => vi.useRealTimers());

const rows = [
  { product_id: 12, sku: '16004', post_title: 'Millésimé 2019', total_sales: 1200, revenue: '30000.00' },
  { product_id: 7, sku: '=cmd', post_title: '@SUM(A1)', total_sales: 3, revenue: '12.50' },
];
const summary: ReportSummary = {
  runId: '2026-11-20261115T080000-abc123',
  partition: '2026-11',
  madeAt: '2026-11-15T08:00:00.000Z',
  totalRevenue: '30012.50',
  products: 2,
  premium: 1,
  ordinary: 1,
  unitsSold: '1203',
};

describe('writeRevenueReport', () => {
  it('writes the same bytes for the same run, whenever it is written (zip entry times pinned to the run start)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bn-report-'));
    dirs.push(dir);
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-12-01T10:00:00Z'));
    await writeRevenueReport(join(dir, 'a.xlsx'), rows, summary);
    vi.setSystemTime(new Date('2027-03-04T17:31:07Z'));
    await writeRevenueReport(join(dir, 'b.xlsx'), rows, summary);
    const [a, b] = await Promise.all([readFile(join(dir, 'a.xlsx')), readFile(join(dir, 'b.xlsx'))]);
    expect(a.equals(b)).toBe(true);
  });

  it('puts the run, the month, when it was made and the figures in the Summary sheet; text neutralised', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bn-report-'));
    dirs.push(dir);
    const path = join(dir, 'r.xlsx');
    await writeRevenueReport(path, rows, summary);
    const got = await readSummary(path);
    expect(got.get(SUMMARY_LABELS.run)).toBe(summary.runId);
    expect(got.get(SUMMARY_LABELS.partition)).toBe('2026-11');
    // A date cell (a date number format): read back as the date it shows.
    expect(got.get(SUMMARY_LABELS.madeAt)).toEqual(new Date(summary.madeAt));
    expect(got.get(SUMMARY_LABELS.totalRevenue)).toBe(30012.5);
    expect(got.get(SUMMARY_LABELS.unitsSold)).toBe(1203);
    const { default: ExcelJS } = await import('exceljs');
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(path);
    const ws = wb.getWorksheet('Revenue by Product')!;
    expect(ws.getRow(3).values).toEqual([undefined, 7, "'=cmd", "'@SUM(A1)", 3, 12.5]);
  });
});
