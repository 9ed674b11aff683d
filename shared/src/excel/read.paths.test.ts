import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { BottleneckError } from '../errors/index.js';
import type { SourceSpec } from '../sources.js';
import { rowXml, xlsxOf, type PartOptions, type PartSheet } from '../testing/xlsx-parts.js';
import {
  checkHeader,
  DEFAULT_READ_LIMITS,
  readSheet,
  readSheetBatches,
  readSheetChecked,
  readSheetValues,
  replayBatch,
  type Converted,
  type RowBatch,
} from './read.js';
import { XlsxZip } from './zip.js';

// The reader's paths beside the plain readSheet: the worker's batches and their replay, the vital
// check's header (shared strings read only as far as it needs), the sheet chosen or refused, the
// header's names matched to the spec. Workbooks built part by part in memory.

let dir: string;
let n = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bn-read-paths-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function xlsx(sheets: PartSheet[] | string, o?: PartOptions): Promise<string> {
  const p = join(dir, `${++n}.xlsx`);
  await writeFile(p, xlsxOf(typeof sheets === 'string' ? [{ name: 'Sheet1', xml: sheets }] : sheets, o));
  return p;
}
async function refusal(p: Promise<unknown>): Promise<BottleneckError> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(BottleneckError);
  return e as BottleneckError;
}

const SPEC: SourceSpec = {
  name: 'erp',
  file: 'w.xlsx',
  sheet: 'Sheet1',
  columns: [
    { name: 'id', type: 'int', sql: 'BIGINT' },
    { name: 'sku', type: 'text', sql: 'VARCHAR' },
  ],
};
const L = DEFAULT_READ_LIMITS;

describe('readSheetBatches and replayBatch: the worker path', () => {
  it('sends the rows in batches of 4096, column by column, the last one short; replayed, they are the rows', async () => {
    const rows = Array.from({ length: 4097 }, (_, i) => rowXml(i + 2, [i, `s${i}`])).join('');
    const p = await xlsx(rowXml(1, ['id', 'sku']) + rows);
    const batches: RowBatch[] = [];
    const summary = await readSheetBatches(p, SPEC, L, (b) => batches.push(b));
    expect(summary).toEqual({ rowCount: 4097, headerRow: 1, blankRows: 0, extraColumns: [], sheetRead: 'Sheet1' });
    expect(batches.map((b) => b.rows.length)).toEqual([4096, 1]);
    expect(batches.map((b) => b.columns.map((c) => c.length))).toEqual([
      [4096, 4096],
      [1, 1],
    ]);
    expect(batches[0]!.rows.slice(0, 2)).toEqual([2, 3]);
    expect(batches[0]!.columns[0]!.slice(0, 2)).toEqual([0, 1]);
    expect(batches[0]!.columns[1]!.slice(0, 2)).toEqual(['s0', 's1']);
    expect(batches[1]).toEqual({ columns: [[4096], ['s4096']], rows: [4098] });

    const replayed: [Converted[], number][] = [];
    for (const b of batches) replayBatch(b, { row: (v, r) => replayed.push([[...v], r]) });
    expect(replayed).toEqual(Array.from({ length: 4097 }, (_, i) => [[i, `s${i}`], i + 2]));
  });

  it('sends no empty batch after a full one', async () => {
    const rows = Array.from({ length: 4096 }, (_, i) => rowXml(i + 2, [i])).join('');
    const batches: RowBatch[] = [];
    await readSheetBatches(await xlsx(rowXml(1, ['id', 'sku']) + rows), SPEC, L, (b) => batches.push(b));
    expect(batches.map((b) => b.rows.length)).toEqual([4096]);
  });

  it('sends nothing more than the one batch when the rows fit in it, and refuses as readSheet does', async () => {
    const p = await xlsx(rowXml(1, ['id', 'sku']) + rowXml(2, [1, 'a']) + rowXml(3, [2, 'b']));
    const batches: RowBatch[] = [];
    await readSheetBatches(p, SPEC, L, (b) => batches.push(b));
    expect(batches).toEqual([
      {
        columns: [
          [1, 2],
          ['a', 'b'],
        ],
        rows: [2, 3],
      },
    ]);
    const bad = await xlsx(rowXml(1, ['id', 'sku']) + rowXml(2, ['x', 'a']));
    const e = await refusal(readSheetBatches(bad, SPEC, L, () => undefined));
    expect(e.message).toMatch(/^w\.xlsx, sheet "Sheet1", column "id", row 2: "x" is not a whole number/);
  });

  it('replays an empty batch as no row', () => {
    const got: number[] = [];
    replayBatch({ columns: [[], []], rows: [] }, { row: (_, r) => got.push(r) });
    expect(got).toEqual([]);
  });
});

describe('readSheetChecked: the rows and the zip directory from one pass', () => {
  it("returns the zip's summary beside the sheet's", async () => {
    const p = await xlsx(rowXml(1, ['id', 'sku']) + rowXml(2, [1, 'a']));
    const got: number[] = [];
    const { sheet, zip } = await readSheetChecked(p, SPEC, L, { row: (_, r) => got.push(r) });
    expect(sheet).toEqual({ rowCount: 1, headerRow: 1, blankRows: 0, extraColumns: [], sheetRead: 'Sheet1' });
    expect(got).toEqual([2]);
    expect(zip.bytes).toBe((await stat(p)).size);
    expect(zip.path).toBe(p);
    expect(zip.entries.map((e) => e.name)).toEqual([
      'xl/workbook.xml',
      'xl/_rels/workbook.xml.rels',
      'xl/worksheets/sheet1.xml',
    ]);
  });
});

describe('the header row matched to the spec', () => {
  it('by name, trimmed and in any case, the first of two equal names, numbers and errors as their text', async () => {
    const spec: SourceSpec = {
      ...SPEC,
      columns: [
        { name: 'SKU', type: 'text', sql: 'VARCHAR' },
        { name: 'id', type: 'int', sql: 'BIGINT' },
        { name: '2024', type: 'int', sql: 'BIGINT' },
        { name: '#N/A', type: 'text', sql: 'VARCHAR' },
      ],
    };
    const header =
      '<row r="3"><c r="A3" t="inlineStr"><is><t> Id </t></is></c><c r="B3" t="inlineStr"><is><t>sku</t></is></c>' +
      '<c r="C3" t="inlineStr"><is><t>ID</t></is></c><c r="D3"><v>2024</v></c><c r="E3" t="e"><v>#N/A</v></c>' +
      '<c r="G3" t="inlineStr"><is><t>Note</t></is></c><c r="H3" t="b"><v>1</v></c></row>';
    const p = await xlsx(header + rowXml(4, [1, 'a', 99, 5, 'e', null, 'n', 'x']));
    const d = await readSheet(p, spec);
    expect(d.rows).toEqual([{ SKU: 'a', id: 1, '2024': 5, '#N/A': 'e', _row: 4 }]);
    expect(d.headerRow).toBe(3);
    // A second ID is no extra column: the spec has one of that name.
    expect(d.extraColumns).toEqual(['Note', 'true']);
    expect(await checkHeader(p, spec, L)).toMatchObject({ headerRow: 3, sheetRead: 'Sheet1' });
  });

  it('a date in the header is matched by its text', async () => {
    const p = await xlsx('<row r="1"><c r="A1" s="1"><v>45322</v></c></row>' + rowXml(2, [7]), { styles: [0, 14] });
    const name = String(new Date(Date.UTC(2024, 0, 31)));
    const d = await readSheet(p, { ...SPEC, columns: [{ name, type: 'int', sql: 'BIGINT' }] });
    expect(d.rows).toEqual([{ [name]: 7, _row: 2 }]);
  });

  it('a missing column lists the header found, empty cells left out; the header check says the same', async () => {
    const p = await xlsx(rowXml(1, ['sku', null, 'x']) + rowXml(2, ['a', null, 'b']));
    const msg = 'w.xlsx, sheet "Sheet1", header row 1: required column "id" missing (found: "sku", "x")';
    const e = await refusal(readSheet(p, SPEC));
    expect(e).toMatchObject({
      code: 'BN_ERR_INPUT_COLUMN_MISSING',
      message: msg,
      location: { file: 'w.xlsx', sheet: 'Sheet1', column: 'id', row: 1 },
    });
    expect((await refusal(checkHeader(p, SPEC, L))).message).toBe(msg);
    const none = await xlsx(rowXml(1, ['a']) + rowXml(2, [1]));
    expect((await refusal(readSheet(none, SPEC))).location).toEqual({
      file: 'w.xlsx',
      sheet: 'Sheet1',
      column: 'id, sku',
      row: 1,
    });
  });

  it('reads a spec column in the last column allowed (maxColumns)', async () => {
    const p = await xlsx(rowXml(1, ['x', 'id', 'sku']) + rowXml(2, ['n', 5, 'a']));
    const d = await readSheet(p, SPEC, { ...L, maxColumns: 3 });
    expect(d.rows).toEqual([{ id: 5, sku: 'a', _row: 2 }]);
  });

  it("each row holds the spec's columns and _row, nothing else", async () => {
    const p = await xlsx(rowXml(1, ['sku', 'id', 'x']) + rowXml(2, ['a', 5, 'n']));
    const [row] = (await readSheet(p, SPEC)).rows;
    expect(Object.keys(row!)).toEqual(['id', 'sku', '_row']);
  });

  it('blank rows after the header are counted, not read, and a row with one value is read', async () => {
    const p = await xlsx(
      rowXml(1, ['id', 'sku', 'note']) +
        rowXml(2, [null, null, 'n']) +
        rowXml(3, [null, 'a']) +
        rowXml(5, [null, null]),
    );
    const d = await readSheet(p, SPEC);
    expect(d.rows).toEqual([{ id: null, sku: 'a', _row: 3 }]);
    expect(d.blankRows).toBe(2);
    expect(d.rowCount).toBe(1);
  });
});

describe('checkHeader: only what the header needs', () => {
  const shared = ['sku', 'other', 'id', 'unused'];
  const header =
    '<row r="1"><c r="A1" t="s"><v>2</v></c><c r="B1" t="inlineStr"><is><t>x</t></is></c><c r="C1" t="s"><v>0</v></c></row>';

  it('reads the shared strings up to the highest the header uses, whatever their order', async () => {
    const p = await xlsx(header + rowXml(2, [1]), { shared });
    expect(await checkHeader(p, SPEC, L)).toMatchObject({ headerRow: 1, sheetRead: 'Sheet1' });
  });

  it('refuses a header that refers to a shared string the workbook lacks', async () => {
    const p = await xlsx(header.replace('<v>2</v>', '<v>4</v>') + rowXml(2, [1]), { shared });
    const e = await refusal(checkHeader(p, SPEC, L));
    expect(e.message).toBe(
      'w.xlsx, sheet "Sheet1", row 1: cell A1 refers to shared string "4", which the workbook does not have; export it again from Excel and drop it again',
    );
  });

  it('an inline header reads no shared strings: a broken strings part is left to the full read', async () => {
    const p = await xlsx(rowXml(1, ['id', 'sku']) + rowXml(2, [1, 'a']), { sharedXml: '<sst><si><t>a</t></si' });
    expect(await checkHeader(p, SPEC, L)).toMatchObject({ headerRow: 1 });
    expect((await refusal(readSheet(p, SPEC))).message).toMatch(
      /^w\.xlsx cannot be read as an xlsx workbook \(xl\/sharedStrings\.xml: /,
    );
  });

  it('a header whose one shared string is the first reads that one', async () => {
    const p = await xlsx(
      '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="inlineStr"><is><t>sku</t></is></c></row>',
      {
        shared: ['id'],
      },
    );
    expect(await checkHeader(p, SPEC, L)).toMatchObject({ headerRow: 1 });
  });

  it('refuses a sheet without a header row, as the full read does', async () => {
    const empty = await xlsx('');
    expect(await refusal(readSheet(empty, SPEC))).toMatchObject({
      code: 'BN_ERR_INPUT_EMPTY',
      message: 'w.xlsx, sheet "Sheet1" is empty: no header row',
      location: { file: 'w.xlsx', sheet: 'Sheet1' },
    });
    const e = await refusal(checkHeader(empty, SPEC, L));
    expect(e).toMatchObject({
      code: 'BN_ERR_INPUT_EMPTY',
      message: 'w.xlsx, sheet "Sheet1" is empty: no header row',
      location: { file: 'w.xlsx', sheet: 'Sheet1' },
    });
  });
});

describe('the file is closed on every path', () => {
  it('after a read, a refusal, a header check and a sheet read back', async () => {
    const close = vi.spyOn(XlsxZip.prototype, 'close');
    try {
      const good = await xlsx(rowXml(1, ['id', 'sku']) + rowXml(2, [1, 'a']));
      const bad = await xlsx(rowXml(1, ['id', 'sku']) + rowXml(2, ['x', 'a']));
      const chart = await xlsx([{ name: 'Sheet1', xml: '', chart: true }]);
      await readSheet(good, SPEC);
      await refusal(readSheet(bad, SPEC));
      await checkHeader(good, SPEC, L);
      await refusal(checkHeader(await xlsx(rowXml(1, ['id'])), SPEC, L));
      await readSheetValues(good, 'w.xlsx', 'Sheet1');
      await refusal(readSheetValues(await xlsx([{ name: 'Data', xml: '' }]), 'w.xlsx', 'Sheet1'));
      await refusal(readSheet(chart, SPEC));
      expect(close).toHaveBeenCalledTimes(7);
    } finally {
      close.mockRestore();
    }
  });
});

describe('the sheet chosen, or refused', () => {
  const good = rowXml(1, ['id', 'sku']) + rowXml(2, [1, 'a']);

  it('refuses a Sheet1 that is a chart, or whose part is not in the zip', async () => {
    const chart = await refusal(readSheet(await xlsx([{ name: 'Sheet1', xml: good, chart: true }]), SPEC));
    expect(chart).toMatchObject({
      code: 'BN_ERR_INPUT_CORRUPT',
      message:
        'w.xlsx: sheet "Sheet1" is not a worksheet (a chart or dialog sheet); export it again from Excel and drop it again',
      location: { file: 'w.xlsx', sheet: 'Sheet1' },
    });
    const gone = await refusal(checkHeader(await xlsx([{ name: 'Sheet1', xml: good, noPart: true }]), SPEC, L));
    expect(gone.message).toBe(
      'w.xlsx: sheet "Sheet1" has no worksheet part in the zip; export it again from Excel and drop it again',
    );
  });

  it('falls back to the one worksheet beside charts and sheets without parts', async () => {
    const p = await xlsx([
      { name: 'Chart', xml: good, chart: true },
      { name: 'Data', xml: good },
      { name: 'Lost', xml: good, noPart: true },
    ]);
    const d = await readSheet(p, SPEC);
    expect(d.sheetRead).toBe('Data');
    expect(d.sheetFallback).toEqual({ expected: 'Sheet1', read: 'Data' });
    expect(d.rows).toEqual([{ id: 1, sku: 'a', _row: 2 }]);
  });

  it('lists every sheet, hidden and very hidden ones marked, or none', async () => {
    const p = await xlsx([
      { name: 'A', xml: good, state: 'veryHidden' },
      { name: 'B', xml: good, state: 'hidden' },
      { name: 'C', xml: good, chart: true },
    ]);
    const e = await refusal(readSheet(p, { ...SPEC, sheet: 'Prices' }));
    expect(e).toMatchObject({
      code: 'BN_ERR_INPUT_SHEET_MISSING',
      message:
        'w.xlsx: sheet "Prices" is missing (sheets found: "A" (very hidden), "B" (hidden), "C"); name the sheet to read "Prices"',
      location: { file: 'w.xlsx', sheet: 'Prices' },
    });
    const none = await refusal(readSheet(await xlsx([]), SPEC));
    expect(none.message).toBe(
      'w.xlsx: sheet "Sheet1" is missing (sheets found: none); name the sheet to read "Sheet1"',
    );
  });

  it('readSheetValues wants its sheet by name: the only worksheet under another name is not it', async () => {
    const p = await xlsx([{ name: 'Data', xml: good }]);
    const e = await refusal(readSheetValues(p, 'report.xlsx', 'Summary'));
    expect(e).toMatchObject({
      code: 'BN_ERR_INPUT_SHEET_MISSING',
      message: 'report.xlsx: sheet "Summary" is missing (sheets found: "Data")',
      location: { file: 'report.xlsx', sheet: 'Summary' },
    });
  });

  it('readSheetValues reads shared strings and dates, and all the rows by default', async () => {
    const p = await xlsx(
      '<row r="1"><c r="A1" t="s"><v>1</v></c><c r="B1" s="1"><v>45322</v></c></row>' + rowXml(2, [3]),
      { shared: ['a', 'b'], styles: [0, 14] },
    );
    expect(await readSheetValues(p, 'r.xlsx', 'Sheet1')).toEqual({
      rows: [['b', new Date(Date.UTC(2024, 0, 31))], [3]],
      rowNumbers: [1, 2],
    });
  });
});
