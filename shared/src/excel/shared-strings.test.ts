import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BottleneckError } from '../errors/index.js';
import { SOURCES } from '../sources.js';
import { buildZip } from '../testing/workbook.js';
import { DEFAULT_READ_LIMITS, readSheet } from './read.js';
import { SharedStrings } from './shared-strings.js';
import { readSharedStrings } from './workbook.js';
import { XlsxZip } from './zip.js';
import { CpuBudget } from '../workers/cpu-budget.js';

/** A store holding `strings`, finished. */
function storeOf(strings: readonly string[], opts?: ConstructorParameters<typeof SharedStrings>[0]): SharedStrings {
  const ss = new SharedStrings(opts);
  for (const s of strings) ss.add(s);
  return ss.finish();
}

/** Every string of the store, by index. */
const all = (ss: SharedStrings) => Array.from({ length: ss.length }, (_, i) => ss.get(i));

describe('SharedStrings: what is added is what is read back', () => {
  it('the empty string, first, between others and last, is "" (not a missing string)', () => {
    const ss = storeOf(['', 'a', '', '', 'b', '']);
    expect(ss.length).toBe(6);
    expect(all(ss)).toEqual(['', 'a', '', '', 'b', '']);
  });

  it('multi-byte UTF-8: accents, CJK, characters outside the BMP (surrogate pairs), whitespace kept', () => {
    const strings = [
      'Ch\u00e2teau',
      '\u65e5\u672c\u9152',
      '\ud83c\udf77 ros\u00e9',
      '  two  spaces\t\n',
      '\u00a0',
      'x',
    ];
    expect(all(storeOf(strings))).toEqual(strings);
  });

  it('a string UTF-8 cannot hold (a lone surrogate, from an _xD800_ escape) comes back unchanged', () => {
    const strings = ['before', 'a\ud800b', '\udfff', 'after \u00e9'];
    const ss = storeOf(strings, { firstChunkBytes: 4, maxChunkBytes: 8 });
    expect(all(ss)).toEqual(strings);
    expect(storeOf(['\ud800'])).toMatchObject({ length: 1 });
    expect(storeOf(['\ud800']).get(0)).toBe('\ud800');
  });

  it('many strings across many chunk boundaries, and strings longer than a chunk', () => {
    // Chunks of 8 to 32 bytes: almost every string opens one or ends one.
    const strings: string[] = [];
    const pieces = ['a', '\u00e9', '\u20ac', '\ud83c\udf77', ' ', ''];
    for (let i = 0; i < 3000; i++) {
      let s = '';
      for (let k = 0; k < i % 23; k++) s += pieces[(i * 7 + k * 3) % pieces.length];
      strings.push(s);
    }
    strings.push('long '.repeat(40), '', '\u00e9'.repeat(100));
    const ss = storeOf(strings, { firstChunkBytes: 8, maxChunkBytes: 32 });
    expect(all(ss)).toEqual(strings);
    // The default chunks, the same strings: the same text.
    expect(all(storeOf(strings))).toEqual(strings);
  });

  it('reads back before finish() as after it, and keeps the text compact (its UTF-8 bytes and 4 per string)', () => {
    const strings = Array.from({ length: 5000 }, (_, i) => `product ${i} ros\u00e9`);
    const ss = new SharedStrings();
    for (const s of strings) ss.add(s);
    expect(ss.get(4321)).toBe('product 4321 ros\u00e9');
    ss.finish();
    expect(all(ss)).toEqual(strings);
    const utf8 = strings.reduce((n, s) => n + Buffer.byteLength(s), 0);
    expect(ss.bytes).toBeGreaterThanOrEqual(utf8);
    // Beside the text and the offsets, only the tails of the chunks a string did not fit in (a few bytes each).
    expect(ss.bytes).toBeLessThanOrEqual(utf8 + 4 * strings.length + 256);
  });

  it('opens chunks that double from the first size up to the largest, a new one only for a string that does not fit', () => {
    const ss = new SharedStrings({ firstChunkBytes: 8, maxChunkBytes: 32 });
    // Ten strings of 8 bytes: chunks of 8 (one string), 16 (two), 32 (four), 32 (three).
    for (let i = 0; i < 10; i++) ss.add(`string${i}!`.slice(0, 8));
    expect(ss.bytes).toBe(1024 * 4 + 8 + 16 + 32 + 32);
    ss.finish();
    // The unused tails given back: the offsets of 10 strings and their 80 bytes.
    expect(ss.bytes).toBe(10 * 4 + 80);
    expect(ss.get(9)).toBe('string9!');
  });

  it('starts with one chunk of 64 KiB and room for 1,024 offsets, trimmed by finish()', () => {
    const ss = new SharedStrings();
    ss.add('abc');
    expect(ss.bytes).toBe(1024 * 4 + 64 * 1024);
    expect(ss.finish().bytes).toBe(4 + 3);
    expect(storeOf([]).bytes).toBe(4);
  });

  it('has no string at an index out of range or not a whole number', () => {
    const ss = storeOf(['a', 'b']);
    for (const i of [-1, 2, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 32])
      expect(ss.get(i), String(i)).toBeUndefined();
    expect(ss.get(-0)).toBe('a');
    expect(new SharedStrings().get(0)).toBeUndefined();
    expect(storeOf([]).length).toBe(0);
  });
});

const MAIN_NS = 'http://schemas.openxmlformats.org/spreadsheetml/2006/main';
const REL_NS = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships';
const PKG_NS = 'http://schemas.openxmlformats.org/package/2006/relationships';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bn-shared-strings-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A workbook of one sheet (Sheet1) with its shared strings part; both given as XML bodies. */
async function workbook(name: string, sheetData: string, sst: string): Promise<string> {
  const wb = `<workbook xmlns="${MAIN_NS}" xmlns:r="${REL_NS}"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>`;
  const rels = `<Relationships xmlns="${PKG_NS}"><Relationship Id="rId1" Type="${REL_NS}/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="${REL_NS}/sharedStrings" Target="sharedStrings.xml"/></Relationships>`;
  const path = join(dir, name);
  await writeFile(
    path,
    buildZip([
      { name: 'xl/workbook.xml', data: Buffer.from(wb) },
      { name: 'xl/_rels/workbook.xml.rels', data: Buffer.from(rels) },
      {
        name: 'xl/worksheets/sheet1.xml',
        data: Buffer.from(`<worksheet xmlns="${MAIN_NS}"><sheetData>${sheetData}</sheetData></worksheet>`),
      },
      { name: 'xl/sharedStrings.xml', data: Buffer.from(`<sst xmlns="${MAIN_NS}">${sst}</sst>`) },
    ]),
  );
  return path;
}

/** The shared strings of a workbook, read as the reader reads them. */
async function sharedOf(path: string, until?: number): Promise<(string | undefined)[]> {
  const zip = await XlsxZip.open(path, 'web.xlsx', DEFAULT_READ_LIMITS);
  try {
    const bounds = { budget: new CpuBudget(60_000), maxCellChars: 32_767, file: 'web.xlsx', timeLimitMs: 60_000 };
    return all(await readSharedStrings(zip, 'xl/sharedStrings.xml', bounds, until));
  } finally {
    await zip.close();
  }
}

describe('readSharedStrings: sharedStrings.xml into the store', () => {
  const sst =
    '<si><t/></si>' +
    '<si><r><rPr><b/></rPr><t>Ch\u00e2</t></r><r><t xml:space="preserve">teau </t></r><r><t>Margaux</t></r></si>' +
    '<si><t>\u6771\u4eac</t><rPh sb="0" eb="2"><t>\u30c8\u30a6\u30ad\u30e7\u30a6</t></rPh></si>' +
    '<si><t xml:space="preserve">  x_x000D_y &amp; \ud83c\udf77 </t></si>' +
    '<si><t>last</t></si>';

  it('rich text runs joined, phonetic runs left out, empty strings kept, escapes and entities decoded', async () => {
    const p = await workbook('runs.xlsx', '', sst);
    expect(await sharedOf(p)).toEqual(['', 'Ch\u00e2teau Margaux', '\u6771\u4eac', '  x\ry & \ud83c\udf77 ', 'last']);
    expect(await sharedOf(p, 2)).toEqual(['', 'Ch\u00e2teau Margaux']);
  });

  it('cells take their strings by index; an index the workbook lacks names file, sheet, cell and row', async () => {
    const header = ['product_id', 'onsale_web', 'price', 'stock_quantity', 'stock_status'];
    const strings = [...header, 'instock', '', 'outofstock'];
    const si = strings.map((s) => `<si><t>${s}</t></si>`).join('');
    const cells = (r: number, v: (string | number)[]) =>
      `<row r="${r}">${v.map((x) => (typeof x === 'string' ? `<c t="s"><v>${x}</v></c>` : `<c><v>${x}</v></c>`)).join('')}</row>`;
    const good = await workbook(
      'erp.xlsx',
      cells(1, ['0', '1', '2', '3', '4']) +
        cells(2, [7, 1, 9.5, 3, '5']) +
        cells(3, [8, 0, 1, 0, '7']) +
        cells(4, [9, 0, 1, 0, '6']),
      si,
    );
    const data = await readSheet(good, SOURCES.erp);
    expect(data.rows.map((r) => r.stock_status)).toEqual(['instock', 'outofstock', null]);

    const bad = await workbook('erp-bad.xlsx', cells(1, ['0', '1', '2', '3', '4']) + cells(2, [7, 1, 9.5, 3, '8']), si);
    const e = await readSheet(bad, SOURCES.erp).then(
      () => null,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(BottleneckError);
    expect(e).toMatchObject({
      code: 'BN_ERR_INPUT_CORRUPT',
      location: { file: 'erp.xlsx', sheet: 'Sheet1', row: 2 },
      message: expect.stringContaining('erp.xlsx, sheet "Sheet1", row 2: cell E2 refers to shared string "8"'),
    });
  });
});
