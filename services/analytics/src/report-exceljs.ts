import { open } from 'node:fs/promises';
import type ExcelJS from 'exceljs';
import { neutralizeText } from '@bottleneck/shared';
import { REVENUE_SHEET, SUMMARY_LABELS, SUMMARY_SHEET, type ReportRow, type ReportSummary } from './report.js';

/** exceljs's streaming writer alone (exceljs is pinned, 4.4.0, and has no exports map). */
const WORKBOOK_WRITER = 'exceljs/lib/stream/xlsx/workbook-writer.js';
const EURO = '#,##0.00 [$€-fr-FR]';
const COUNT = '#,##0';
const WHEN = 'yyyy-mm-dd hh:mm:ss';
const text = (s: string | null) => (s === null ? null : neutralizeText(s));

/**
 * Sets the modification time of every entry of a zip file (local headers and central directory)
 * to `when`, in place: exceljs dates its entries "now", so the same report written twice would
 * differ in those bytes alone.
 */
export async function pinZipTimestamps(path: string, when: Date): Promise<void> {
  const dosTime = (when.getUTCHours() << 11) | (when.getUTCMinutes() << 5) | Math.floor(when.getUTCSeconds() / 2);
  const dosDate =
    ((Math.max(1980, when.getUTCFullYear()) - 1980) << 9) | ((when.getUTCMonth() + 1) << 5) | when.getUTCDate();
  const fh = await open(path, 'r+');
  try {
    const { size } = await fh.stat();
    const tailLen = Math.min(size, 22 + 0xffff);
    const tail = Buffer.alloc(tailLen);
    await fh.read(tail, 0, tailLen, size - tailLen);
    let eocd = -1;
    for (let i = tailLen - 22; i >= 0; i--)
      if (tail.readUInt32LE(i) === 0x06054b50) {
        eocd = i;
        break;
      }
    if (eocd < 0) throw new Error(`${path} is not a zip file (no end of central directory)`);
    const count = tail.readUInt16LE(eocd + 10);
    const cdSize = tail.readUInt32LE(eocd + 12);
    const cdOffset = tail.readUInt32LE(eocd + 16);
    const cd = Buffer.alloc(cdSize);
    await fh.read(cd, 0, cdSize, cdOffset);
    const stamp = Buffer.alloc(4);
    stamp.writeUInt16LE(dosTime, 0);
    stamp.writeUInt16LE(dosDate, 2);
    for (let p = 0, i = 0; i < count; i++) {
      if (cd.readUInt32LE(p) !== 0x02014b50) throw new Error(`${path}: damaged zip central directory`);
      stamp.copy(cd, p + 12);
      await fh.write(stamp, 0, 4, cd.readUInt32LE(p + 42) + 10);
      p += 46 + cd.readUInt16LE(p + 28) + cd.readUInt16LE(p + 30) + cd.readUInt16LE(p + 32);
    }
    await fh.write(cd, 0, cdSize, cdOffset);
  } finally {
    await fh.close();
  }
}

/**
 * The report as the pipeline wrote it with exceljs's streaming writer until issue 18, kept as the
 * reference the tests compare the pipeline's own writer with (never on a run's path):
 * sheet "Revenue by Product" (column titles in words, bold and frozen header row, autofilter,
 * units with a thousands separator, revenue as a number in euros) and sheet "Summary" (the run,
 * the month, when it was made, the figures). Text cells are neutralised and written as strings,
 * never formulas. The workbook's dates (properties and zip entries) are the run's start: the same
 * run writes the same bytes.
 */
export async function writeRevenueReportWithExceljs(
  path: string,
  rows: readonly ReportRow[],
  s: ReportSummary,
): Promise<void> {
  const { default: WorkbookWriter } = (await import(WORKBOOK_WRITER)) as {
    default: typeof ExcelJS.stream.xlsx.WorkbookWriter;
  };
  const made = new Date(s.madeAt);
  if (Number.isNaN(made.getTime())) throw new TypeError(`writeRevenueReport: madeAt is not a date: ${s.madeAt}`);
  const wb = new WorkbookWriter({ filename: path, useSharedStrings: true, useStyles: true });
  wb.creator = 'BottleNeck pipeline';
  wb.created = made;
  wb.modified = made;
  const frozen = { views: [{ state: 'frozen' as const, ySplit: 1 }] };
  const ws = wb.addWorksheet(REVENUE_SHEET, { ...frozen, autoFilter: 'A1:E1' } as never);
  ws.columns = [
    { header: 'Product ID', key: 'product_id', width: 12, style: { numFmt: '0' } },
    { header: 'SKU', key: 'sku', width: 22 },
    { header: 'Product', key: 'post_title', width: 60 },
    { header: 'Units sold', key: 'total_sales', width: 12, style: { numFmt: COUNT } },
    { header: 'Revenue (€)', key: 'revenue', width: 16, style: { numFmt: EURO } },
  ];
  ws.getRow(1).font = { bold: true };
  for (const r of rows) {
    ws.addRow([
      Number(r.product_id),
      text(r.sku),
      text(r.post_title),
      Number(r.total_sales),
      Number(r.revenue),
    ]).commit();
  }
  ws.commit();
  const sum = wb.addWorksheet(SUMMARY_SHEET, frozen);
  sum.columns = [
    { header: 'Metric', key: 'm', width: 22 },
    { header: 'Value', key: 'v', width: 40 },
  ];
  sum.getRow(1).font = { bold: true };
  const L = SUMMARY_LABELS;
  const line = (label: string, value: string | number | Date | null, numFmt?: string) => {
    const row = sum.addRow([label, value]);
    if (numFmt) row.getCell(2).numFmt = numFmt;
    row.commit();
  };
  line(L.run, text(s.runId));
  line(L.partition, text(s.partition));
  line(L.madeAt, made, WHEN);
  line(L.totalRevenue, Number(s.totalRevenue), EURO);
  line(L.products, s.products, COUNT);
  line(L.premium, s.premium, COUNT);
  line(L.ordinary, s.ordinary, COUNT);
  line(L.unitsSold, Number(s.unitsSold), COUNT);
  sum.commit();
  await wb.commit();
  await pinZipTimestamps(path, made);
}
