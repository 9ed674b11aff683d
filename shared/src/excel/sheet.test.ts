import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BottleneckError } from '../errors/index.js';
import type { SourceSpec } from '../sources.js';
import { MAIN_NS, rowXml, xlsxOf, type PartOptions, type PartSheet } from '../testing/xlsx-parts.js';
import { DEFAULT_READ_LIMITS, readSheet, readSheetValues, type ReadLimits } from './read.js';
import { columnOf, SheetHandler } from './sheet.js';

// The worksheet part as SheetHandler reads it: cell types, styles, references present or not, rows
// out of place, the columns a spec wants. Workbooks built part by part in memory (a few hundred bytes).

let dir: string;
let n = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bn-sheet-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function xlsx(sheets: PartSheet[] | string, o?: PartOptions): Promise<string> {
  const p = join(dir, `${++n}.xlsx`);
  await writeFile(p, xlsxOf(typeof sheets === 'string' ? [{ name: 'Sheet1', xml: sheets }] : sheets, o));
  return p;
}
const values = async (p: string, limits: ReadLimits = DEFAULT_READ_LIMITS, maxRows?: number) =>
  readSheetValues(p, 'w.xlsx', 'Sheet1', limits, maxRows);
async function refusal(p: Promise<unknown>): Promise<BottleneckError> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(BottleneckError);
  return e as BottleneckError;
}

const text = (name: string) => ({ name, type: 'text' as const, sql: 'VARCHAR' });
const spec = (...names: string[]): SourceSpec => ({
  name: 'erp',
  file: 'w.xlsx',
  sheet: 'Sheet1',
  columns: names.map(text),
});

describe('SheetHandler: cell types', () => {
  it('numbers, shared, formula and inline text, booleans, errors, ISO dates as text, unknown types as numbers', async () => {
    const p = await xlsx(
      '<row r="1">' +
        '<c r="A1"><v>1.5</v></c>' +
        '<c r="B1" t="n"><v>-2</v></c>' +
        '<c r="C1" t="s"><v>1</v></c>' +
        '<c r="D1" t="str"><f>A1&amp;"x"</f><v>1.5x_x0041_</v></c>' +
        '<c r="E1" t="inlineStr"><is><r><t>Ka</t></r><rPh><t>KA</t></rPh><r><t xml:space="preserve">nji </t></r></is></c>' +
        '<c r="F1" t="b"><v>1</v></c>' +
        '<c r="G1" t="b"><v>0</v></c>' +
        '<c r="H1" t="b"><v>true</v></c>' +
        '<c r="I1" t="e"><v>#N/A</v></c>' +
        '<c r="J1" t="d"><v>2024-01-31T12:30:00</v></c>' +
        '<c r="K1" t="zz"><v>7</v></c>' +
        '<c r="L1"><v>12abc</v></c>' +
        '<c r="M1"/>' +
        '<c r="N1" t="d"></c>' +
        '<c r="O1" t="str"><v>_x005F_x0041_</v></c>' +
        '<c r="P1" t="inlineStr"><is><t>_x0042_</t></is></c>' +
        '</row>',
      { shared: ['zero', ' one '] },
    );
    expect(await values(p)).toEqual({
      rows: [
        [
          1.5,
          -2,
          ' one ',
          '1.5xA',
          'Kanji ',
          true,
          false,
          true,
          { error: '#N/A' },
          '2024-01-31T12:30:00',
          7,
          '12abc',
          null,
          null,
          '_x0041_',
          'B',
        ],
      ],
      rowNumbers: [1],
    });
  });

  it('an ISO date cell stays text, even when it looks like a number', async () => {
    const p = await xlsx('<row r="1"><c r="A1" t="d"><v>12</v></c><c r="B1" t="d" s="1"><v>45322</v></c></row>', {
      styles: [0, 14],
    });
    expect((await values(p)).rows).toEqual([['12', '45322']]);
  });

  it('elements of another namespace inside a cell or a row are not its', async () => {
    const p = await xlsx(
      `<worksheet xmlns="${MAIN_NS}" xmlns:x="urn:other"><sheetData>` +
        '<row r="1"><c r="A1"><v>1</v><x:v>9</x:v></c><x:c r="B1"><v>8</v></x:c>' +
        '<c r="C1" t="inlineStr"><is><t>a</t><x:t>z</x:t></is></c></row><x:row r="5"><c r="A5"><v>5</v></c></x:row>' +
        '</sheetData></worksheet>',
    );
    expect(await values(p)).toEqual({ rows: [[1, null, 'a']], rowNumbers: [1] });
  });

  it('a <t> or <v> outside what the cell type reads is not its text', async () => {
    // A shared-string cell with stray inline text keeps its index; text outside any cell is dropped.
    const p = await xlsx(
      '<row r="1"><c r="A1" t="s"><v>0</v><is><t>stray</t></is></c><c r="B1"><is><t>9</t></is><v>3</v></c></row>',
      { shared: ['kept'] },
    );
    expect((await values(p)).rows).toEqual([['kept', 3]]);
  });

  it("a number is a date when its style's format is one (built-in or custom), in the workbook's date system", async () => {
    const row =
      '<row r="1"><c r="A1" s="1"><v>45322.5</v></c><c r="B1" s="2"><v>45322.5</v></c><c r="C1" s="3"><v>45322.5</v></c><c r="D1" s="0"><v>45322.5</v></c><c r="E1" s="x"><v>2</v></c></row>';
    const styles = { styles: [0, 14, 164, 165], formats: { 164: 'yyyy-mm-dd hh:mm', 165: '0.00' } };
    const noon = new Date(Date.UTC(2024, 0, 31, 12));
    expect((await values(await xlsx(row, styles))).rows).toEqual([[noon, noon, 45322.5, 45322.5, 2]]);
    const in1904 = (await values(await xlsx(row, { ...styles, date1904: true }))).rows[0]!;
    expect(in1904[0]).toEqual(new Date(Date.UTC(2028, 1, 1, 12)));
  });
});

describe('SheetHandler: rows and references', () => {
  it('rows and cells without r follow the previous one; a bad r is taken as absent', async () => {
    const p = await xlsx(
      '<row><c t="inlineStr"><is><t>a</t></is></c><c><v>2</v></c></row>' +
        '<row r="4"><c r="C4"><v>3</v></c><c><v>4</v></c><c r="a4"><v>5</v></c></row>' +
        '<row r="0"><c r="B5"><v>6</v></c></row>' +
        '<row r="x"><c r="A6"><v>7</v></c></row>' +
        '<row r="7.5"><c r="A7"><v>8</v></c></row>' +
        '<row r="-2"><c r="A8"><v>9</v></c></row>' +
        '<row r="12"><c r="A12"><v>10</v></c></row>',
    );
    expect(await values(p)).toEqual({
      rows: [['a', 2], [null, null, 3, 4, 5], [null, 6], [7], [8], [9], [10]],
      rowNumbers: [1, 4, 5, 6, 7, 8, 12],
    });
  });

  it('a cell given before an earlier column, and the row after a wide one, keep their own width', async () => {
    const p = await xlsx(
      rowXml(1, [null, null, 'c']).replace('</row>', '<c r="A1"><v>1</v></c></row>') + rowXml(2, [5]),
    );
    expect((await values(p)).rows).toEqual([[1, null, 'c'], [5]]);
  });

  it('reads no row outside sheetData, before it or after it', async () => {
    const p = await xlsx(
      `<worksheet xmlns="${MAIN_NS}"><sheetPr><row r="7"><c r="A7"><v>70</v></c></row></sheetPr>` +
        `<sheetData><row><c><v>1</v></c></row><row><c><v>2</v></c></row></sheetData>` +
        `<extLst><row r="9"><c r="A9"><v>90</v></c></row></extLst></worksheet>`,
    );
    expect(await values(p)).toEqual({ rows: [[1], [2]], rowNumbers: [1, 2] });
  });

  it('stops at maxRows rows: the rows after are not read', async () => {
    const p = await xlsx([1, 2, 3, 4].map((r) => rowXml(r, [r])).join(''));
    expect(await values(p, DEFAULT_READ_LIMITS, 2)).toEqual({ rows: [[1], [2]], rowNumbers: [1, 2] });
    expect(await values(p, DEFAULT_READ_LIMITS, 1)).toEqual({ rows: [[1]], rowNumbers: [1] });
  });
});

describe('SheetHandler: bounds and what the spec wants', () => {
  it('refuses a cell past maxColumns, naming its column by letters (or by number past XFD) and its row', async () => {
    const limits = { ...DEFAULT_READ_LIMITS, maxColumns: 3 };
    const e = await refusal(values(await xlsx(rowXml(1, [1, 2, 3]) + rowXml(2, [1, 2, 3, 4])), limits));
    expect(e).toMatchObject({
      code: 'BN_ERR_INPUT_TOO_LARGE',
      message: 'w.xlsx, sheet "Sheet1", row 2: a cell in column D, more than the 3 columns allowed',
      location: { file: 'w.xlsx', sheet: 'Sheet1', row: 2 },
    });
    // Exactly maxColumns columns are read, the last one with its style.
    const last = await xlsx(rowXml(1, [1, 2]).replace('</row>', '<c r="C1" s="1"><v>1</v></c></row>'), {
      styles: [0, 14],
    });
    expect((await values(last, limits)).rows).toEqual([[1, 2, new Date(Date.UTC(1900, 0, 1))]]);
    const far = await refusal(values(await xlsx('<row r="3"><c r="XFE3"><v>1</v></c></row>')));
    expect(far.message).toBe(
      'w.xlsx, sheet "Sheet1", row 3: a cell in column 16385, more than the 512 columns allowed',
    );
    const farther = await refusal(values(await xlsx(`<row r="3"><c r="${'Z'.repeat(300)}3"><v>1</v></c></row>`)));
    expect(farther.message).toMatch(/^w\.xlsx, sheet "Sheet1", row 3: a cell in column \d{5}, more than the 512/);
    const xfd = await refusal(values(await xlsx('<row r="3"><c r="XFD3"><v>1</v></c></row>')));
    expect(xfd.message).toBe('w.xlsx, sheet "Sheet1", row 3: a cell in column XFD, more than the 512 columns allowed');
    // A reference of letters alone is a column too.
    expect(columnOf('AB')).toBe(28);
  });

  it('keeps only the columns the spec reads: a broken cell elsewhere in the row is not looked at', async () => {
    const header = '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>';
    const ok = await xlsx(header + '<row r="2"><c r="A2" t="s"><v>99</v></c><c r="B2" t="s"><v>2</v></c></row>', {
      shared: ['note', 'sku', 'X1'],
    });
    expect((await readSheet(ok, spec('sku'))).rows).toEqual([{ sku: 'X1', _row: 2 }]);
    const e = await refusal(readSheet(ok, spec('note', 'sku')));
    expect(e).toMatchObject({
      code: 'BN_ERR_INPUT_CORRUPT',
      message:
        'w.xlsx, sheet "Sheet1", row 2: cell A2 refers to shared string "99", which the workbook does not have; export it again from Excel and drop it again',
      location: { file: 'w.xlsx', sheet: 'Sheet1', row: 2 },
    });
  });

  it('a kept cell after an unwanted one reads its own text, not the skipped cell', async () => {
    const p = await xlsx(
      rowXml(1, ['a', 'skip', 'b']) +
        '<row r="2"><c r="A2" t="inlineStr"><is><t>1</t></is></c><c r="B2" t="inlineStr"><is><t>junk</t></is></c><c r="C2"><v>3</v></c></row>',
    );
    expect((await readSheet(p, spec('b', 'a'))).rows).toEqual([{ b: '3', a: '1', _row: 2 }]);
  });
});

describe('SheetHandler: cells in one call (xml.ts) read as element by element', () => {
  // Each sheet read twice: as the reader reads it, and with the one-call path taken away, so that
  // every cell comes through open, text and close. Rows, values and errors must be the same.
  const SHEETS = [
    '<row r="1"><c r="A1"><v>1.5</v></c><c r="B1" t="s" s="1"><v>1</v></c><c r="C1" t="str"><v>a b</v></c>' +
      '<c r="D1" s="2"/><c r="E1"><v></v></c><c t="b"><v>1</v></c><c r="G1" t="e"><v>#N/A</v></c></row>' +
      '<row r="3"><c r="B3" t="s"><v>0</v></c><c r="C3" t="str"><v>a&amp;b</v></c><c  r="D3"><v>4</v></c>' +
      '<c r="E3" t="inlineStr"><is><t>x</t></is></c><c r="F3"><f>1+1</f><v>2</v></c><c r="G3" s="2"><v>45000.5</v></c></row>' +
      '<row><c><v>9</v></c><c r="C4" t="d"><v>2024-01-31T12:30:00</v></c></row>',
    '<row r="1"><c r="A1"><v>1</v></c><c r="E1"><v>2</v></c></row>',
    '<row r="1"><c r="A1" t="s"><v>7</v></c></row>',
  ];
  const read = async (p: string, limits: ReadLimits) =>
    values(p, limits).then(
      (v) => ({ v }),
      (e: unknown) => ({ error: (e as Error).message }),
    );

  it.each(SHEETS.map((x, i) => [i, x]))('sheet %i: the same rows or the same error', async (_, xml) => {
    const p = await xlsx(xml, { shared: ['zero', ' one '], styles: [0, 0, 14] });
    const limits = { ...DEFAULT_READ_LIMITS, maxColumns: 6 };
    const proto = SheetHandler.prototype as { cell?: SheetHandler['cell'] };
    const fast = await read(p, limits);
    const saved = proto.cell;
    proto.cell = undefined;
    let slow;
    try {
      slow = await read(p, limits);
    } finally {
      proto.cell = saved;
    }
    expect(fast).toEqual(slow);
  });
});
