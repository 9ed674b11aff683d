import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BottleneckError } from '../errors/index.js';
import { SOURCES, type ColumnSpec, type SourceSpec } from '../sources.js';
import {
  checkHeader,
  DEFAULT_READ_LIMITS,
  readSheet,
  readSheetValues,
  type ReadLimits,
  type SheetData,
} from './read.js';

/** test/fixtures/workbooks: how each was made is in its README. */
const fixture = (name: string) => fileURLToPath(new URL(`../../../test/fixtures/workbooks/${name}`, import.meta.url));
const spec = (file: string, columns: ColumnSpec[], base: SourceSpec = SOURCES.erp): SourceSpec => ({
  ...base,
  file,
  columns,
});
const erp = (file: string): SourceSpec => ({ ...SOURCES.erp, file });
const text = (name: string): ColumnSpec => ({ name, type: 'text', sql: 'VARCHAR' });
const int = (name: string): ColumnSpec => ({ name, type: 'int', sql: 'BIGINT' });
const ts = (name: string): ColumnSpec => ({ name, type: 'timestamp', sql: 'TIMESTAMP' });

const ERP_ROWS = [
  { product_id: 3847, onsale_web: 1, price: '24.2', stock_quantity: 0, stock_status: 'outofstock', _row: 2 },
  { product_id: 4241, onsale_web: 1, price: '39.5', stock_quantity: 0, stock_status: 'outofstock', _row: 3 },
  { product_id: 4096, onsale_web: 0, price: '12.75', stock_quantity: 7, stock_status: 'instock', _row: 4 },
];

async function failure(p: Promise<unknown>): Promise<BottleneckError> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(BottleneckError);
  return e as BottleneckError;
}

function summary(d: SheetData) {
  const { rows: _rows, ...rest } = d;
  return rest;
}

describe('fixtures written by openpyxl (xl/workbook.xml after the worksheets, inline strings)', () => {
  it('a decoy sheet with doubled prices before Sheet1: Sheet1 is read, by name', async () => {
    const d = await readSheet(fixture('openpyxl-decoy-before.xlsx'), erp('openpyxl-decoy-before.xlsx'));
    expect(d.rows).toEqual(ERP_ROWS);
    expect(summary(d)).toEqual({ rowCount: 3, headerRow: 1, blankRows: 0, extraColumns: [], sheetRead: 'Sheet1' });
  });

  it('an extra sheet after Sheet1, and a hidden one before it, change nothing', async () => {
    for (const f of ['openpyxl-extra-after.xlsx', 'openpyxl-hidden.xlsx']) {
      const d = await readSheet(fixture(f), erp(f));
      expect(d.rows, f).toEqual(ERP_ROWS);
      expect(d.sheetRead, f).toBe('Sheet1');
      expect(d.sheetFallback, f).toBeUndefined();
    }
  });

  it('one worksheet named otherwise is read, with the fallback reported for the WARN check', async () => {
    const d = await readSheet(fixture('openpyxl-one-sheet-renamed.xlsx'), erp('openpyxl-one-sheet-renamed.xlsx'));
    expect(d.rows).toEqual(ERP_ROWS);
    expect(d.sheetFallback).toEqual({ expected: 'Sheet1', read: 'Export' });
    const h = await checkHeader(
      fixture('openpyxl-one-sheet-renamed.xlsx'),
      erp('openpyxl-one-sheet-renamed.xlsx'),
      DEFAULT_READ_LIMITS,
    );
    expect(h).toMatchObject({
      headerRow: 1,
      sheetRead: 'Export',
      sheetFallback: { expected: 'Sheet1', read: 'Export' },
    });
  });

  it('dates in the 1904 system', async () => {
    const d = await readSheet(fixture('openpyxl-1904.xlsx'), spec('openpyxl-1904.xlsx', [int('id'), ts('when')]));
    expect(d.rows).toEqual([
      { id: 1, when: '2024-01-31 12:30:00.000', _row: 2 },
      { id: 2, when: '1999-12-31 23:59:59.000', _row: 3 },
    ]);
  });

  it('inline strings keep the stored text, &amp; included, and its spaces', async () => {
    const d = await readSheet(
      fixture('openpyxl-inline.xlsx'),
      spec('openpyxl-inline.xlsx', [text('sku'), text('post_title')]),
    );
    expect(d.rows).toEqual([
      { sku: '16004', post_title: 'Agrapart &amp; Fils', _row: 2 },
      { sku: 'bon-cadeau-25-euros', post_title: '  Ch\u00e2teau <Lagrange>  ', _row: 3 },
    ]);
  });
});

describe('fixtures shaped as Excel and the .NET Open XML SDK write them (hand-built)', () => {
  it('Excel: shared strings, rich-text runs without the phonetic run, whitespace and _xHHHH_ escapes, date formats, formula text, booleans', async () => {
    const s = spec('excel-like.xlsx', [
      text('sku'),
      text('post_title'),
      { name: 'price', type: 'decimal', sql: 'DECIMAL(18,4)' },
      { name: 'average_rating', type: 'double', sql: 'DOUBLE' },
      int('total_sales'),
      ts('post_modified'),
      text('flag'),
      text('note'),
    ]);
    const d = await readSheet(fixture('excel-like.xlsx'), s);
    expect(d.rows).toEqual([
      {
        sku: '16004',
        post_title: 'Ch\u00e2teau Margaux & Fils',
        price: '24.2',
        average_rating: 4.5,
        total_sales: 3,
        post_modified: '2024-01-31 12:30:00.000',
        flag: 'true',
        note: '16004x',
        _row: 2,
      },
      {
        sku: '  13127-1 ',
        post_title: 'line one\r\nline two, _x0041_ kept',
        price: '8.50',
        average_rating: 0,
        total_sales: null,
        post_modified: '2024-01-31 00:00:00.000',
        flag: 'false',
        note: null,
        _row: 3,
      },
    ]);
    // The cells as the workbook holds them: a number, a date (custom and built-in formats), a boolean.
    const v = await readSheetValues(fixture('excel-like.xlsx'), 'excel-like.xlsx', 'Sheet1');
    expect(v.rows[1]).toEqual([
      '16004',
      'Ch\u00e2teau Margaux & Fils',
      24.2,
      4.5,
      3,
      new Date(Date.UTC(2024, 0, 31, 12, 30)),
      true,
      '16004x',
    ]);
    expect(v.rows[2]).toEqual([
      '  13127-1 ',
      'line one\r\nline two, _x0041_ kept',
      ' 8.50 ',
      0,
      null,
      new Date(Date.UTC(2024, 0, 31)),
      false,
    ]);
  });

  it('namespace-prefixed SpreadsheetML (<x:workbook>), absolute relationship targets, a sheet part of another name', async () => {
    const d = await readSheet(fixture('ns-prefixed.xlsx'), erp('ns-prefixed.xlsx'));
    expect(d.rows).toEqual([
      { product_id: 4954, onsale_web: 1, price: '24.2', stock_quantity: 12, stock_status: 'instock', _row: 2 },
      { product_id: 15, onsale_web: 0, price: '8.5', stock_quantity: 0, stock_status: 'outofstock', _row: 3 },
    ]);
    await expect(
      checkHeader(fixture('ns-prefixed.xlsx'), erp('ns-prefixed.xlsx'), DEFAULT_READ_LIMITS),
    ).resolves.toMatchObject({ headerRow: 1, sheetRead: 'Sheet1' });
  });

  it('rows and cells without r, a sparse row, a blank row, a row number given again', async () => {
    const d = await readSheet(fixture('no-r.xlsx'), erp('no-r.xlsx'));
    expect(d.rows).toEqual([
      { product_id: 4954, onsale_web: 1, price: '24.2', stock_quantity: 12, stock_status: 'instock', _row: 2 },
      { product_id: 15, onsale_web: null, price: null, stock_quantity: null, stock_status: 'outofstock', _row: 3 },
      { product_id: 16, onsale_web: 0, price: '9.95', stock_quantity: 3, stock_status: 'instock', _row: 9 },
    ]);
    expect(d.blankRows).toBe(1);
  });

  it("multi-byte characters cut by the reader's chunk boundaries come out whole", async () => {
    const d = await readSheet(fixture('utf8-boundary.xlsx'), spec('utf8-boundary.xlsx', [int('id'), text('text')]));
    const long = d.rows.filter((r) => !/^p+$/.test(String(r.text)));
    expect(long.map((r) => r._row)).toEqual([9, 17, 25]);
    for (const [r, ch] of [
      [long[0]!, '\u00e9'],
      [long[1]!, '\u20ac'],
      [long[2]!, '\ud834\udd1e'],
    ] as const) {
      const t = String(r.text);
      expect(t.includes('\ufffd')).toBe(false);
      // ASCII padding, then only the character, whole.
      expect(
        t
          .replace(/^a*/, '')
          .split(ch)
          .every((x) => x === ''),
      ).toBe(true);
    }
  });
});

describe('fixtures written by exceljs', () => {
  it("rich text, a formula's result, a hyperlink's text, a date, numbers as text", async () => {
    const s = spec('exceljs-rich-text.xlsx', [
      text('sku'),
      text('post_title'),
      { name: 'price', type: 'decimal', sql: 'DECIMAL(18,4)' },
      int('total_sales'),
      ts('post_modified'),
      text('guid'),
    ]);
    expect((await readSheet(fixture('exceljs-rich-text.xlsx'), s)).rows).toEqual([
      {
        sku: '16004',
        post_title: 'Ch\u00e2teau Latour',
        price: '24.2',
        total_sales: 3,
        post_modified: '2024-01-31 12:30:00.000',
        guid: 'site',
        _row: 2,
      },
      {
        sku: 'bon-cadeau-25-euros',
        post_title: 'Bon cadeau',
        price: '25',
        total_sales: 0,
        post_modified: '2024-01-31 08:00:00.000',
        guid: null,
        _row: 3,
      },
    ]);
  });

  it('an error cell names file, sheet, column and row', async () => {
    const e = await failure(readSheet(fixture('exceljs-error-cell.xlsx'), erp('exceljs-error-cell.xlsx')));
    expect(e.message).toBe(
      'exceljs-error-cell.xlsx, sheet "Sheet1", column "price", row 2: "#DIV/0!" is an Excel error or an unsupported value. Fix the cell in the export and drop the file again.',
    );
    expect(e.location).toEqual({ file: 'exceljs-error-cell.xlsx', sheet: 'Sheet1', column: 'price', row: 2 });
  });
});

describe('hostile and empty fixtures', () => {
  const f = erp('header-never-closes.xlsx');
  it('a header row that never closes is stopped by the column bound, in the header check too', async () => {
    const msg =
      'header-never-closes.xlsx, sheet "Sheet1", row 1: a cell in column SS, more than the 512 columns allowed';
    expect((await failure(readSheet(fixture('header-never-closes.xlsx'), f))).message).toBe(msg);
    expect((await failure(checkHeader(fixture('header-never-closes.xlsx'), f, DEFAULT_READ_LIMITS))).message).toBe(msg);
  });

  it("and by the time limit, and without those by the part's end", async () => {
    const limits: ReadLimits = { ...DEFAULT_READ_LIMITS, maxColumns: 100_000 };
    const slow = await failure(checkHeader(fixture('header-never-closes.xlsx'), f, { ...limits, maxMillis: 0 }));
    expect(slow).toMatchObject({
      code: 'BN_ERR_INPUT_TOO_LARGE',
      message:
        'header-never-closes.xlsx: reading took more than 0 ms of CPU time (BN_MAX_READ_MS); the workbook is too large or hostile',
    });
    const open = await failure(checkHeader(fixture('header-never-closes.xlsx'), f, limits));
    expect(open.message).toBe(
      'header-never-closes.xlsx cannot be read as an xlsx workbook (xl/worksheets/sheet1.xml: 2:950099: unclosed tag: row): export it again from Excel and drop it again',
    );
  });

  it('a 0-byte file', async () => {
    const e = await failure(readSheet(fixture('empty.xlsx'), erp('empty.xlsx')));
    expect(e).toMatchObject({
      code: 'BN_ERR_INPUT_EMPTY',
      message:
        'empty.xlsx is empty (0 bytes): the export or the copy did not finish; export it again from Excel and drop it again',
    });
  });
});
