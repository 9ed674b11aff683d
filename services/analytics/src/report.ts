import type ExcelJS from 'exceljs';
import { neutralizeText } from '@bottleneck/shared';

/**
 * exceljs's streaming writer alone: importing the whole package (its reader, CSV support and their
 * dependencies) costs about twice as much, on every run's path. exceljs is pinned (4.4.0) and has no
 * exports map, so the module path is stable.
 */
const WORKBOOK_WRITER = 'exceljs/lib/stream/xlsx/workbook-writer.js';

export interface ReportRow {
  product_id: string | number;
  sku: string;
  post_title: string | null;
  total_sales: string | number;
  /** Exact decimal string, e.g. "1234.50". */
  revenue: string;
}

export interface ReportSummary {
  partition: string;
  totalRevenue: string;
  products: number;
  premium: number;
  ordinary: number;
  unitsSold: string;
}

export const REVENUE_SHEET = 'Revenue by Product';
export const SUMMARY_SHEET = 'Summary';
const EURO = '#,##0.00 [$€-fr-FR]';
/** Fixed workbook dates: the report of the same inputs is the same file. */
const FIXED_DATE = new Date(Date.UTC(2000, 0, 1));

const text = (s: string | null) => (s === null ? null : neutralizeText(s));

/**
 * Writes revenue_per_product.xlsx with exceljs's streaming writer: sheet "Revenue by Product"
 * (revenue as a number in euros) and sheet "Summary" (Metric, Value). Text cells are neutralised
 * and written as strings, never formulas.
 */
export async function writeRevenueReport(path: string, rows: readonly ReportRow[], s: ReportSummary): Promise<void> {
  const { default: WorkbookWriter } = (await import(WORKBOOK_WRITER)) as { default: typeof ExcelJS.stream.xlsx.WorkbookWriter };
  const wb = new WorkbookWriter({ filename: path, useSharedStrings: true, useStyles: true });
  wb.creator = 'BottleNeck pipeline';
  wb.created = FIXED_DATE;
  wb.modified = FIXED_DATE;
  const ws = wb.addWorksheet(REVENUE_SHEET);
  ws.columns = [
    { header: 'product_id', key: 'product_id', width: 12 },
    { header: 'sku', key: 'sku', width: 22 },
    { header: 'post_title', key: 'post_title', width: 60 },
    { header: 'total_sales', key: 'total_sales', width: 12 },
    { header: 'revenue', key: 'revenue', width: 14, style: { numFmt: EURO } },
  ];
  for (const r of rows) {
    ws.addRow([Number(r.product_id), text(r.sku), text(r.post_title), Number(r.total_sales), Number(r.revenue)]).commit();
  }
  ws.commit();
  const sum = wb.addWorksheet(SUMMARY_SHEET);
  sum.columns = [{ header: 'Metric', key: 'm', width: 22 }, { header: 'Value', key: 'v', width: 18 }];
  sum.addRow(['Partition', text(s.partition)]).commit();
  const total = sum.addRow(['Total Revenue', Number(s.totalRevenue)]);
  total.getCell(2).numFmt = EURO;
  total.commit();
  sum.addRow(['Products', s.products]).commit();
  sum.addRow(['Premium wines', s.premium]).commit();
  sum.addRow(['Ordinary wines', s.ordinary]).commit();
  sum.addRow(['Units sold', Number(s.unitsSold)]).commit();
  sum.commit();
  await wb.commit();
}

/**
 * Reads the Summary sheet back (Metric -> Value) with the pipeline's own reader, without
 * converting the large product sheet: what a spreadsheet would show, for the summary_total_matches check.
 */
export async function readSummary(path: string): Promise<Map<string, unknown>> {
  const { DEFAULT_READ_LIMITS, readSheetValues } = await import('@bottleneck/shared/excel/read');
  const got = await readSheetValues(path, 'revenue_per_product.xlsx', SUMMARY_SHEET, DEFAULT_READ_LIMITS);
  return new Map(got.rows.map((r) => [String(r[0]), r[1]]));
}

/** readSummary as entries, which cross a worker boundary. */
export async function readSummaryEntries(path: string): Promise<[string, unknown][]> {
  return [...(await readSummary(path))];
}
