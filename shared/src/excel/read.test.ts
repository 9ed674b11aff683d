import { mkdir, mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { BottleneckError } from '../errors/index.js';
import { SOURCES, type SourceSpec } from '../sources.js';
import { buildZip, referenceDir, writeWorkbook, writeZip, type ZipEntrySpec } from '../testing/workbook.js';
import { threadCpuMs } from '../workers/cpu-budget.js';
import { checkHeader, DEFAULT_READ_LIMITS, readSheet, readSheetValues, type ReadLimits } from './read.js';

const ERP = SOURCES.erp;
const HEADER = ['product_id', 'onsale_web', 'price', 'stock_quantity', 'stock_status'];
const FIX = 'Fix the cell in the export and drop the file again.';

/** A spec with one column of each type, to see every conversion. */
const TYPES: SourceSpec = {
  name: 'erp',
  file: 'types.xlsx',
  sheet: 'Sheet1',
  columns: [
    { name: 'i', type: 'int', sql: 'BIGINT' },
    { name: 'd', type: 'decimal', sql: 'DECIMAL(18,4)' },
    { name: 'f', type: 'double', sql: 'DOUBLE' },
    { name: 't', type: 'text', sql: 'VARCHAR' },
    { name: 'ts', type: 'timestamp', sql: 'TIMESTAMP' },
  ],
};

let dir: string;
let n = 0;
/** A fresh path in its own folder, with the name the reader will use in messages. */
async function at(name = 'erp.xlsx'): Promise<string> {
  const folder = join(dir, String(++n));
  await mkdir(folder);
  return join(folder, name);
}

async function workbook(rows: unknown[][], name = 'erp.xlsx'): Promise<string> {
  const p = await at(name);
  await writeWorkbook(p, [{ name: 'Sheet1', rows }]);
  return p;
}

async function file(name: string, bytes: Buffer | string): Promise<string> {
  const p = await at(name);
  await writeFile(p, bytes);
  return p;
}

/** The error readSheet rejects with; fails the test if it resolves. */
async function failure(
  path: string,
  spec: SourceSpec = ERP,
  limits: ReadLimits = DEFAULT_READ_LIMITS,
): Promise<BottleneckError> {
  const r = await readSheet(path, spec, limits).then(
    () => null,
    (e: unknown) => e,
  );
  expect(r).toBeInstanceOf(BottleneckError);
  return r as BottleneckError;
}

/** The local-header part of a zip (what a streaming reader reads) without its central directory. */
function localPart(zip: Buffer): Buffer {
  return zip.subarray(0, zip.readUInt32LE(zip.length - 22 + 16));
}

/** `zip` with `hidden` bytes put in front, its central directory moved to match: a listed-only inspector does not see them. */
function prependHidden(hidden: Buffer, zip: Buffer): Buffer {
  const out = Buffer.concat([hidden, zip]);
  const eocd = out.length - 22;
  const count = out.readUInt16LE(eocd + 10);
  const cd = out.readUInt32LE(eocd + 16) + hidden.length;
  out.writeUInt32LE(cd, eocd + 16);
  for (let p = cd, i = 0; i < count; i++) {
    out.writeUInt32LE(out.readUInt32LE(p + 42) + hidden.length, p + 42);
    p += 46 + out.readUInt16LE(p + 28) + out.readUInt16LE(p + 30) + out.readUInt16LE(p + 32);
  }
  return out;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bn-read-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('readSheet: good workbooks', () => {
  it("reads the rows of the spec's columns with their Excel row numbers", async () => {
    const p = await workbook([HEADER, [4954, 1, 24.2, 12, 'instock'], [15, 0, '8.50', 0, 'outofstock']]);
    expect(await readSheet(p, ERP)).toEqual({
      rows: [
        { product_id: 4954, onsale_web: 1, price: '24.2', stock_quantity: 12, stock_status: 'instock', _row: 2 },
        { product_id: 15, onsale_web: 0, price: '8.50', stock_quantity: 0, stock_status: 'outofstock', _row: 3 },
      ],
      rowCount: 2,
      headerRow: 1,
      blankRows: 0,
      extraColumns: [],
      sheetRead: 'Sheet1',
    });
  });

  it("converts each cell to its column's type, skips blank rows and reports extra columns", async () => {
    const p = await workbook(
      [
        [' I ', 'D', 'f', 't', 'ts', 'note'],
        [1, 24.200000000000003, 4.5, 'hello', new Date(Date.UTC(2024, 0, 31, 12, 30)), 'x'],
        ['42', ' 3.50 ', '2.5', 7, '2024-01-31 12:30', null],
        [null, null, null, null, null, 'only a note'],
        [-3, 12, 0, { richText: [{ text: 'Ch\u00e2' }, { text: 'teau' }] }, 45000, null],
        [
          { formula: '1+1', result: 2 },
          -0.5,
          '1e3',
          { text: 'site', hyperlink: 'http://x.example' },
          '2024-01-31',
          null,
        ],
      ],
      'types.xlsx',
    );
    expect(await readSheet(p, TYPES)).toEqual({
      rows: [
        { i: 1, d: '24.2', f: 4.5, t: 'hello', ts: '2024-01-31 12:30:00.000', _row: 2 },
        { i: 42, d: '3.50', f: 2.5, t: '7', ts: '2024-01-31 12:30:00.000', _row: 3 },
        { i: -3, d: '12', f: 0, t: 'Ch\u00e2teau', ts: '2023-03-15 00:00:00.000', _row: 5 },
        { i: 2, d: '-0.5', f: 1000, t: 'site', ts: '2024-01-31 00:00:00.000', _row: 6 },
      ],
      rowCount: 4,
      headerRow: 1,
      blankRows: 1,
      extraColumns: ['note'],
      sheetRead: 'Sheet1',
    });
  });

  it('reads empty cells as null', async () => {
    const p = await workbook([HEADER, [1, null, 2, null, 'a']]);
    expect((await readSheet(p, ERP)).rows).toEqual([
      { product_id: 1, onsale_web: null, price: '2', stock_quantity: null, stock_status: 'a', _row: 2 },
    ]);
  });

  const ref = referenceDir();
  it.skipIf(!ref)('reads the reference erp.xlsx: 825 rows (skipped without ../shared/data/reference)', async () => {
    const data = await readSheet(join(ref!, 'erp.xlsx'), ERP);
    expect(data.rows).toHaveLength(825);
    expect(data.headerRow).toBe(1);
    expect(Object.keys(data.rows[0]!)).toEqual([...HEADER, '_row']);
  });
});

describe('readSheet: bad cells name file, sheet, column and row', () => {
  it('text in the price column', async () => {
    const p = await workbook([HEADER, [1, 1, 10, 1, 'a'], [2, 0, 'vingt euros', 0, 'b']]);
    const e = await failure(p);
    expect(e.code).toBe('BN_ERR_INPUT_BAD_VALUE');
    expect(e.message).toBe(`erp.xlsx, sheet "Sheet1", column "price", row 3: "vingt euros" is not a number. ${FIX}`);
    expect(e.location).toEqual({ file: 'erp.xlsx', sheet: 'Sheet1', column: 'price', row: 3 });
    expect(e.retriable).toBe(false);
  });

  it('a fraction in a whole-number column, more than 4 decimals, an Excel error', async () => {
    expect((await failure(await workbook([HEADER, [1.5, 1, 1, 1, 'a']]))).message).toBe(
      `erp.xlsx, sheet "Sheet1", column "product_id", row 2: 1.5 is not a whole number. ${FIX}`,
    );
    expect((await failure(await workbook([HEADER, [1, 1, 1.23456, 1, 'a']]))).message).toBe(
      `erp.xlsx, sheet "Sheet1", column "price", row 2: 1.23456 has more than 4 decimal places. ${FIX}`,
    );
    expect((await failure(await workbook([HEADER, [1, 1, { error: '#DIV/0!' }, 1, 'a']]))).message).toBe(
      `erp.xlsx, sheet "Sheet1", column "price", row 2: "#DIV/0!" is an Excel error or an unsupported value. ${FIX}`,
    );
  });

  it('a text that is not a date, and a long value cut in the message', async () => {
    const e = await failure(
      await workbook(
        [
          ['i', 'd', 'f', 't', 'ts'],
          [1, 1, 1, 'a', 'yesterday'],
        ],
        'types.xlsx',
      ),
      TYPES,
    );
    expect(e.message).toBe(`types.xlsx, sheet "Sheet1", column "ts", row 2: "yesterday" is not a date. ${FIX}`);
    const long = await failure(await workbook([HEADER, ['x'.repeat(100), 1, 1, 1, 'a']]));
    expect(long.message).toBe(
      `erp.xlsx, sheet "Sheet1", column "product_id", row 2: "${'x'.repeat(56)}... is not a whole number. ${FIX}`,
    );
  });

  it('refuses a date that does not exist instead of rolling it over', async () => {
    const e = await failure(
      await workbook(
        [
          ['i', 'd', 'f', 't', 'ts'],
          [1, 1, 1, 'a', '2024-02-30'],
        ],
        'types.xlsx',
      ),
      TYPES,
    );
    expect(e.message).toBe(`types.xlsx, sheet "Sheet1", column "ts", row 2: "2024-02-30" is not a date. ${FIX}`);
  });

  it('refuses a numeric price too large for DECIMAL(18,4), as it refuses the same text', async () => {
    expect((await failure(await workbook([HEADER, [1, 1, '1000000000000000', 1, 'a']]))).code).toBe(
      'BN_ERR_INPUT_BAD_VALUE',
    );
    const e = await failure(await workbook([HEADER, [1, 1, 1e15, 1, 'a']]));
    expect(e).toMatchObject({
      code: 'BN_ERR_INPUT_BAD_VALUE',
      location: { file: 'erp.xlsx', sheet: 'Sheet1', column: 'price', row: 2 },
    });
  });
});

describe('readSheet: bad structure', () => {
  it('a missing column, and two, listing what was found', async () => {
    const one = await failure(
      await workbook([
        ['product_id', 'onsale_web', 'stock_quantity', 'stock_status'],
        [1, 1, 1, 'a'],
      ]),
    );
    expect(one.code).toBe('BN_ERR_INPUT_COLUMN_MISSING');
    expect(one.message).toBe(
      'erp.xlsx, sheet "Sheet1", header row 1: required column "price" missing (found: "product_id", "onsale_web", "stock_quantity", "stock_status")',
    );
    expect(one.location).toEqual({ file: 'erp.xlsx', sheet: 'Sheet1', column: 'price', row: 1 });
    const two = await failure(
      await workbook([
        ['product_id', 'stock_quantity', 'stock_status'],
        [1, 1, 'a'],
      ]),
    );
    expect(two.message).toBe(
      'erp.xlsx, sheet "Sheet1", header row 1: required columns "onsale_web", "price" missing (found: "product_id", "stock_quantity", "stock_status")',
    );
  });

  it('an empty sheet', async () => {
    const e = await failure(await workbook([]));
    expect(e.code).toBe('BN_ERR_INPUT_EMPTY');
    expect(e.message).toBe('erp.xlsx, sheet "Sheet1" is empty: no header row');
  });

  it('a header row and no data', async () => {
    const e = await failure(await workbook([HEADER]));
    expect(e.code).toBe('BN_ERR_INPUT_EMPTY');
    expect(e.message).toBe('erp.xlsx, sheet "Sheet1" has a header row but no data rows');
    expect(e.location).toEqual({ file: 'erp.xlsx', sheet: 'Sheet1', row: 2 });
  });

  it('a missing sheet, listing the sheets found', async () => {
    const p = await at();
    await writeWorkbook(p, [
      { name: 'Data', rows: [HEADER, [1, 1, 1, 1, 'a']] },
      { name: 'Notes', rows: [['x']] },
    ]);
    const e = await failure(p);
    expect(e.code).toBe('BN_ERR_INPUT_SHEET_MISSING');
    expect(e.message).toBe(
      'erp.xlsx: sheet "Sheet1" is missing (sheets found: "Data", "Notes"); name the sheet to read "Sheet1"',
    );
    expect(e.location).toEqual({ file: 'erp.xlsx', sheet: 'Sheet1' });
  });

  it('a missing file', async () => {
    const e = await failure(join(dir, 'nowhere', 'erp.xlsx'));
    expect(e.code).toBe('BN_ERR_INPUT_MISSING');
    expect(e.message).toBe("erp.xlsx is missing: put the month's erp.xlsx beside the other exports");
  });
});

describe('readSheet: files that are not good xlsx', () => {
  it('a text file renamed .xlsx', async () => {
    const e = await failure(await file('erp.xlsx', 'product_id;price\n1;24.2\n'));
    expect(e.code).toBe('BN_ERR_INPUT_NOT_XLSX');
    expect(e.message).toBe(
      'erp.xlsx is not an xlsx workbook (it does not start with the zip signature PK): export it again from Excel as .xlsx',
    );
  });

  it('a zip that is not a workbook', async () => {
    const e = await failure(await file('erp.xlsx', buildZip([{ name: 'readme.txt', data: Buffer.from('hello') }])));
    expect(e.code).toBe('BN_ERR_INPUT_NOT_XLSX');
    expect(e.message).toBe('erp.xlsx is a zip file but not an xlsx workbook (no xl/workbook.xml)');
  });

  it('a truncated workbook', async () => {
    const p = await workbook([HEADER, [1, 1, 1, 1, 'a']]);
    await truncate(p, Math.floor((await stat(p)).size / 2));
    const e = await failure(p);
    expect(e.code).toBe('BN_ERR_INPUT_CORRUPT');
    expect(e.message).toBe(
      'erp.xlsx is truncated or corrupt (no zip central directory): the file was cut during copy or upload; drop it again',
    );
  });

  it('an entry that fails its CRC, or inflates past its declared size', async () => {
    const crc = await failure(
      await file(
        'erp.xlsx',
        buildZip([{ name: 'xl/workbook.xml', data: Buffer.from('<workbook/>'), method: 'store', crc: 1 }]),
      ),
    );
    expect(crc.code).toBe('BN_ERR_INPUT_CORRUPT');
    expect(crc.message).toBe(
      'erp.xlsx is corrupt: zip entry xl/workbook.xml fails its CRC-32 check; export it again from Excel and drop it again',
    );
    const lying = await failure(
      await file('erp.xlsx', buildZip([{ name: 'xl/workbook.xml', data: Buffer.alloc(100_000), declaredSize: 100 }])),
    );
    expect(lying.code).toBe('BN_ERR_INPUT_CORRUPT');
    // Verified before any parse, and stopped as soon as it expands past what it declares.
    expect(lying.message).toBe(
      'erp.xlsx is corrupt: zip entry xl/workbook.xml expands past its declared 100 bytes; export it again from Excel and drop it again',
    );
  });

  it('a workbook part that is not XML', async () => {
    const e = await failure(
      await file('erp.xlsx', buildZip([{ name: 'xl/workbook.xml', data: Buffer.from('not xml at all') }])),
    );
    expect(e.code).toBe('BN_ERR_INPUT_CORRUPT');
    expect(e.message).toBe(
      'erp.xlsx cannot be read as an xlsx workbook (xl/workbook.xml: 1:14: text data outside of root node.): export it again from Excel and drop it again',
    );
  });

  it('refuses a workbook with zip entries its central directory does not list', async () => {
    const good = await readFile(await workbook([HEADER, [1, 1, 2, 3, 'listed']]));
    const sheet =
      '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>' +
      `<row r="1">${HEADER.map((h, i) => `<c r="${'ABCDE'[i]}1" t="inlineStr"><is><t>${h}</t></is></c>`).join('')}</row>` +
      '<row r="2"><c r="A2"><v>999</v></c><c r="B2"><v>1</v></c><c r="C2"><v>666</v></c><c r="D2"><v>1</v></c><c r="E2" t="inlineStr"><is><t>hidden</t></is></c></row>' +
      '</sheetData></worksheet>';
    const hidden = localPart(buildZip([{ name: 'xl/worksheets/sheet1.xml', data: Buffer.from(sheet) }]));
    const e = await failure(await file('erp.xlsx', prependHidden(hidden, good)));
    expect(e.code).toBe('BN_ERR_INPUT_CORRUPT');
  });
});

describe('readSheet: limits', () => {
  it('a zip bomb (50 MB of zeros in one entry) is refused before parsing', async () => {
    const zeros = Buffer.alloc(50 * 1024 * 1024);
    const zip = buildZip([
      { name: 'xl/workbook.xml', data: Buffer.from('<workbook/>') },
      { name: 'xl/worksheets/sheet1.xml', data: zeros },
    ]);
    const compressed = zip.readUInt32LE(zip.readUInt32LE(zip.length - 22 + 16) + 46 + 'xl/workbook.xml'.length + 20);
    const e = await failure(await file('erp.xlsx', zip));
    expect(e.code).toBe('BN_ERR_INPUT_TOO_LARGE');
    expect(e.message).toBe(
      `erp.xlsx looks like a zip bomb: entry xl/worksheets/sheet1.xml expands ${Math.round(zeros.length / compressed)} times (at most 200 allowed)`,
    );
  });

  it('more rows than maxRows', async () => {
    const p = await workbook([HEADER, [1, 1, 1, 1, 'a'], [2, 1, 1, 1, 'a'], [3, 1, 1, 1, 'a']]);
    const e = await failure(p, ERP, { ...DEFAULT_READ_LIMITS, maxRows: 2 });
    expect(e.code).toBe('BN_ERR_INPUT_TOO_LARGE');
    expect(e.message).toBe('erp.xlsx, sheet "Sheet1": more than 2 rows (BN_MAX_ROWS)');
    expect(e.location).toEqual({ file: 'erp.xlsx', sheet: 'Sheet1', row: 4 });
    expect((await readSheet(p, ERP, { ...DEFAULT_READ_LIMITS, maxRows: 3 })).rows).toHaveLength(3);
  });

  it('accepts exactly maxRows data rows followed by a blank row', async () => {
    const p = await workbook([
      [...HEADER, 'note'],
      [1, 1, 1, 1, 'a', null],
      [2, 1, 1, 1, 'a', null],
      [null, null, null, null, null, 'total'],
    ]);
    const data = await readSheet(p, ERP, { ...DEFAULT_READ_LIMITS, maxRows: 2 });
    expect(data.rows).toHaveLength(2);
    expect(data.blankRows).toBe(1);
  });

  it('a file larger than maxBytes', async () => {
    const p = await workbook([HEADER, [1, 1, 1, 1, 'a']]);
    const { size } = await stat(p);
    const e = await failure(p, ERP, { ...DEFAULT_READ_LIMITS, maxBytes: 1000 });
    expect(e.code).toBe('BN_ERR_INPUT_TOO_LARGE');
    expect(e.message).toBe(`erp.xlsx is ${size} bytes, more than the 1000 bytes allowed (BN_MAX_FILE_BYTES)`);
  });

  it('more uncompressed bytes or more zip entries than allowed', async () => {
    const big = await failure(
      await file(
        'erp.xlsx',
        buildZip([
          { name: 'a', data: Buffer.alloc(600, 1) },
          { name: 'xl/workbook.xml', data: Buffer.alloc(600, 2) },
        ]),
      ),
      ERP,
      { ...DEFAULT_READ_LIMITS, maxUncompressedBytes: 1000 },
    );
    expect(big.message).toBe('erp.xlsx expands to 1200 bytes, more than the 1000 allowed (BN_MAX_UNCOMPRESSED_BYTES)');
    const p = await at();
    await writeZip(p, [
      { name: 'a', data: Buffer.from('a') },
      { name: 'b', data: Buffer.from('b') },
      { name: 'xl/workbook.xml', data: Buffer.from('c') },
    ]);
    const many = await failure(p, ERP, { ...DEFAULT_READ_LIMITS, maxEntries: 2 });
    expect(many).toMatchObject({
      code: 'BN_ERR_INPUT_TOO_LARGE',
      message: 'erp.xlsx has 3 zip entries, more than the 2 allowed',
    });
  });

  it('more columns than maxColumns, a text cell longer than maxCellChars', async () => {
    const wide = await failure(
      await workbook([
        [...HEADER, 'note'],
        [1, 1, 1, 1, 'a', 'n'],
      ]),
      ERP,
      { ...DEFAULT_READ_LIMITS, maxColumns: 5 },
    );
    expect(wide).toMatchObject({
      code: 'BN_ERR_INPUT_TOO_LARGE',
      message: 'erp.xlsx, sheet "Sheet1", row 1: a cell in column F, more than the 5 columns allowed',
      location: { file: 'erp.xlsx', sheet: 'Sheet1', row: 1 },
    });
    const long = await failure(await workbook([HEADER, [1, 1, 1, 1, 'x'.repeat(50)]]), ERP, {
      ...DEFAULT_READ_LIMITS,
      maxCellChars: 10,
    });
    expect(long).toMatchObject({
      code: 'BN_ERR_INPUT_TOO_LARGE',
      message: 'erp.xlsx, sheet "Sheet1", column "stock_status", row 2: the cell holds 50 characters, more than 10',
      location: { file: 'erp.xlsx', sheet: 'Sheet1', column: 'stock_status', row: 2 },
    });
  });
});

describe('readSheet: the process survives hostile input', () => {
  it('rejects every bad file with a BottleneckError, all at once, and reads a good one after', async () => {
    const good = await workbook([HEADER, [1, 1, 1, 1, 'a']]);
    const bytes = await readFile(good);
    const bad = await Promise.all([
      file('erp.xlsx', 'not a zip'),
      file('erp.xlsx', bytes.subarray(0, bytes.length - 30)),
      file('erp.xlsx', Buffer.concat([bytes.subarray(0, 2000), Buffer.alloc(500, 0x41), bytes.subarray(2500)])),
      file(
        'erp.xlsx',
        buildZip([
          { name: 'xl/workbook.xml', data: Buffer.from('<') },
          { name: 'xl/worksheets/sheet1.xml', data: Buffer.from('<<<<') },
        ]),
      ),
      file('erp.xlsx', buildZip([{ name: 'xl/workbook.xml', data: Buffer.alloc(10 * 1024 * 1024) }])),
      file('erp.xlsx', Buffer.alloc(0)),
    ]);
    const results = await Promise.allSettled(bad.map((p) => readSheet(p, ERP)));
    for (const r of results) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(BottleneckError);
      expect((r as PromiseRejectedResult).reason.code).toMatch(/^BN_ERR_INPUT_/);
    }
    expect((await readSheet(good, ERP)).rows).toHaveLength(1);
  });
});

const MAIN_NS = 'http://schemas.openxmlformats.org/spreadsheetml/2006/main';
const REL_NS = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships';
const PKG_NS = 'http://schemas.openxmlformats.org/package/2006/relationships';

/** The rows of an ERP sheet as inline-string XML, for hand-made workbooks. */
function erpSheetXml(rows: unknown[][]): string {
  const cell = (v: unknown) =>
    typeof v === 'number' ? `<c><v>${v}</v></c>` : `<c t="inlineStr"><is><t>${String(v)}</t></is></c>`;
  return `<worksheet xmlns="${MAIN_NS}"><sheetData>${rows.map((r) => `<row>${r.map(cell).join('')}</row>`).join('')}</sheetData></worksheet>`;
}

/** A workbook built part by part; `sheets` name each sheet and give its XML, `extra` adds parts (with CRC overrides). */
function handMade(
  sheets: { name: string; xml: string; state?: string; crc?: number }[],
  extra: ZipEntrySpec[] = [],
): Buffer {
  const wb = `<workbook xmlns="${MAIN_NS}" xmlns:r="${REL_NS}"><sheets>${sheets.map((s, i) => `<sheet name="${s.name}" sheetId="${i + 1}"${s.state ? ` state="${s.state}"` : ''} r:id="rId${i + 1}"/>`).join('')}</sheets></workbook>`;
  const rels = `<Relationships xmlns="${PKG_NS}">${sheets.map((_, i) => `<Relationship Id="rId${i + 1}" Type="${REL_NS}/worksheet" Target="worksheets/sheet${i + 1}.xml"/>`).join('')}</Relationships>`;
  return buildZip([
    { name: 'xl/workbook.xml', data: Buffer.from(wb) },
    { name: 'xl/_rels/workbook.xml.rels', data: Buffer.from(rels) },
    ...sheets.map((s, i) => ({
      name: `xl/worksheets/sheet${i + 1}.xml`,
      data: Buffer.from(s.xml),
      ...(s.crc !== undefined ? { crc: s.crc } : {}),
    })),
    ...extra,
  ]);
}

describe('readSheet: every part is verified', () => {
  it('a part nobody parses that fails its CRC fails the read', async () => {
    const p = await file(
      'erp.xlsx',
      handMade(
        [{ name: 'Sheet1', xml: erpSheetXml([HEADER, [1, 1, 2, 3, 'a']]) }],
        [{ name: 'docProps/app.xml', data: Buffer.from('<Properties/>'), crc: 7 }],
      ),
    );
    const e = await failure(p);
    expect(e.message).toBe(
      'erp.xlsx is corrupt: zip entry docProps/app.xml fails its CRC-32 check; export it again from Excel and drop it again',
    );
    expect(e).toMatchObject({ code: 'BN_ERR_INPUT_CORRUPT', location: { file: 'erp.xlsx' } });
  });

  it('a damaged sheet is reported by its CRC, not by where the parse tripped', async () => {
    const damaged = await file(
      'erp.xlsx',
      handMade([{ name: 'Sheet1', xml: `<worksheet xmlns="${MAIN_NS}"><sheetData><row><<<`, crc: 12345 }]),
    );
    expect((await failure(damaged)).message).toBe(
      'erp.xlsx is corrupt: zip entry xl/worksheets/sheet1.xml fails its CRC-32 check; export it again from Excel and drop it again',
    );
    // Well-formed but not what was written: the rows were parsed, the CRC still refuses them.
    const swapped = await file(
      'erp.xlsx',
      handMade([{ name: 'Sheet1', xml: erpSheetXml([HEADER, [1, 1, 2, 3, 'a']]), crc: 1 }]),
    );
    expect((await failure(swapped)).message).toBe(
      'erp.xlsx is corrupt: zip entry xl/worksheets/sheet1.xml fails its CRC-32 check; export it again from Excel and drop it again',
    );
  });
});

describe('readSheet: the sheet is found by name', () => {
  it('reads the only worksheet when the expected one is absent, and says which', async () => {
    const p = await file(
      'erp.xlsx',
      handMade([{ name: 'Export 2024-01', xml: erpSheetXml([HEADER, [1, 1, 2, 3, 'a']]) }]),
    );
    const data = await readSheet(p, ERP);
    expect(data.rows).toEqual([
      { product_id: 1, onsale_web: 1, price: '2', stock_quantity: 3, stock_status: 'a', _row: 2 },
    ]);
    expect(data.sheetRead).toBe('Export 2024-01');
    expect(data.sheetFallback).toEqual({ expected: 'Sheet1', read: 'Export 2024-01' });
  });

  it('with two sheets and neither named Sheet1, lists them, hidden ones marked', async () => {
    const rows = erpSheetXml([HEADER, [1, 1, 2, 3, 'a']]);
    const p = await file(
      'erp.xlsx',
      handMade([
        { name: 'Old prices', xml: rows, state: 'hidden' },
        { name: 'Prices', xml: rows },
      ]),
    );
    const e = await failure(p);
    expect(e.code).toBe('BN_ERR_INPUT_SHEET_MISSING');
    expect(e.message).toBe(
      'erp.xlsx: sheet "Sheet1" is missing (sheets found: "Old prices" (hidden), "Prices"); name the sheet to read "Sheet1"',
    );
  });

  it('a 0-byte file says it is empty', async () => {
    const e = await failure(await file('erp.xlsx', Buffer.alloc(0)));
    expect(e).toMatchObject({ code: 'BN_ERR_INPUT_EMPTY', location: { file: 'erp.xlsx' } });
    expect(e.message).toBe(
      'erp.xlsx is empty (0 bytes): the export or the copy did not finish; export it again from Excel and drop it again',
    );
  });

  it('refuses a DOCTYPE (no entity tricks), naming the part', async () => {
    const xml = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><worksheet xmlns="${MAIN_NS}"><sheetData><row><c t="inlineStr"><is><t>&lol2;</t></is></c></row></sheetData></worksheet>`;
    const e = await failure(await file('erp.xlsx', handMade([{ name: 'Sheet1', xml }])));
    expect(e.code).toBe('BN_ERR_INPUT_CORRUPT');
    expect(e.message).toBe(
      'erp.xlsx cannot be read as an xlsx workbook (xl/worksheets/sheet1.xml: 1:95: a DOCTYPE is not allowed in an xlsx part): export it again from Excel and drop it again',
    );
  });

  it('refuses a cell or tag that runs on without markup, bounded, before the parser buffers it', async () => {
    // Letters that do not compress into a zip bomb: the ratio check lets it through, the parse bound stops it.
    let seed = 7;
    const noise = Array.from({ length: 600_000 }, () =>
      String.fromCharCode(97 + ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % 26)),
    ).join('');
    const p = await file(
      'erp.xlsx',
      handMade([
        { name: 'Sheet1', xml: `<worksheet xmlns="${MAIN_NS}"><sheetData><row r="1"><c t="inlineStr"><is><t>${noise}` },
      ]),
    );
    const e = await failure(p, ERP, { ...DEFAULT_READ_LIMITS, maxCellChars: 1000 });
    expect(e.message).toBe(
      'erp.xlsx, sheet "Sheet1", row 1: more than 75536 characters without markup (a cell holds at most 1000 characters); the workbook is damaged or hostile',
    );
    expect(e).toMatchObject({
      code: 'BN_ERR_INPUT_TOO_LARGE',
      location: { file: 'erp.xlsx', sheet: 'Sheet1', row: 1 },
    });
  });
});

describe('checkHeader: the vital check, with the same parser', () => {
  it('passes a good header whatever the data rows hold: it stops after the header row', async () => {
    const p = await workbook([HEADER, [1, 1, 'vingt euros', 1, 'a']]);
    const got = await checkHeader(p, ERP, DEFAULT_READ_LIMITS);
    expect(got).toMatchObject({ headerRow: 1, sheetRead: 'Sheet1', zip: { bytes: (await stat(p)).size } });
    expect(got.sheetFallback).toBeUndefined();
    // The full read does see the bad cell.
    expect((await failure(p)).code).toBe('BN_ERR_INPUT_BAD_VALUE');
  });

  it("refuses a missing column with the full reader's words", async () => {
    const p = await workbook([
      ['product_id', 'onsale_web', 'stock_quantity', 'stock_status'],
      [1, 1, 1, 'a'],
    ]);
    const e = await checkHeader(p, ERP, DEFAULT_READ_LIMITS).then(
      () => null,
      (x: unknown) => x as BottleneckError,
    );
    expect(e?.message).toBe(
      'erp.xlsx, sheet "Sheet1", header row 1: required column "price" missing (found: "product_id", "onsale_web", "stock_quantity", "stock_status")',
    );
  });

  it('still checks the CRC of every part, the rest of the sheet included', async () => {
    const p = await file(
      'erp.xlsx',
      handMade([{ name: 'Sheet1', xml: erpSheetXml([HEADER, [1, 1, 2, 3, 'a']]), crc: 99 }]),
    );
    const e = await checkHeader(p, ERP, DEFAULT_READ_LIMITS).then(
      () => null,
      (x: unknown) => x as BottleneckError,
    );
    expect(e?.message).toBe(
      'erp.xlsx is corrupt: zip entry xl/worksheets/sheet1.xml fails its CRC-32 check; export it again from Excel and drop it again',
    );
  });

  it('names the only worksheet it checked when Sheet1 is absent', async () => {
    const p = await file('erp.xlsx', handMade([{ name: 'Data', xml: erpSheetXml([HEADER, [1, 1, 2, 3, 'a']]) }]));
    expect(await checkHeader(p, ERP, DEFAULT_READ_LIMITS)).toMatchObject({
      sheetRead: 'Data',
      sheetFallback: { expected: 'Sheet1', read: 'Data' },
    });
  });

  it('is bounded in time like every pass (BN_MAX_READ_MS)', async () => {
    const p = await workbook([HEADER, [1, 1, 1, 1, 'a']]);
    const e = await checkHeader(p, ERP, { ...DEFAULT_READ_LIMITS, maxMillis: 0 }).then(
      () => null,
      (x: unknown) => x as BottleneckError,
    );
    expect(e).toMatchObject({
      code: 'BN_ERR_INPUT_TOO_LARGE',
      message:
        'erp.xlsx: reading took more than 0 ms of CPU time (BN_MAX_READ_MS); the workbook is too large or hostile',
    });
  });

  it.runIf(threadCpuMs() !== null)(
    'counts CPU time, not wall time: a process starved of CPU still reads a valid workbook',
    async () => {
      const p = await workbook([HEADER, [1, 1, 1, 1, 'a']]);
      // Each look at the wall clock finds a minute gone (a process that gets almost no CPU): a limit
      // in wall time called this file hostile after two looks.
      let t = Date.now();
      const starved = vi.spyOn(Date, 'now').mockImplementation(() => (t += 60_000));
      try {
        expect(await checkHeader(p, ERP, DEFAULT_READ_LIMITS)).toMatchObject({ headerRow: 1 });
        expect((await readSheet(p, ERP, DEFAULT_READ_LIMITS)).rows).toHaveLength(1);
        expect(starved).toHaveBeenCalled();
      } finally {
        starved.mockRestore();
      }
    },
  );
});

describe('readSheetValues: a sheet as the workbook holds it', () => {
  it('reads the cells of a named sheet, not the sheet before it', async () => {
    const p = await at('report.xlsx');
    await writeWorkbook(p, [
      {
        name: 'Revenue by Product',
        rows: [
          ['product_id', 'revenue'],
          [1, 12.5],
        ],
      },
      {
        name: 'Summary',
        rows: [
          ['Metric', 'Value'],
          ['Total Revenue', 70568.6],
          ['Products', 714],
        ],
      },
    ]);
    expect(await readSheetValues(p, 'report.xlsx', 'Summary')).toEqual({
      rows: [
        ['Metric', 'Value'],
        ['Total Revenue', 70568.6],
        ['Products', 714],
      ],
      rowNumbers: [1, 2, 3],
    });
    const e = await readSheetValues(p, 'report.xlsx', 'Nope').then(
      () => null,
      (x: unknown) => x as BottleneckError,
    );
    expect(e?.message).toBe(
      'report.xlsx: sheet "Nope" is missing (sheets found: "Revenue by Product", "Summary"); name the sheet to read "Nope"',
    );
  });
});

describe("readSheet: text is the export's, byte for byte, or refused", () => {
  const sheetBytes = (inner: Buffer) =>
    Buffer.concat([
      Buffer.from(`<worksheet xmlns="${MAIN_NS}"><sheetData><row><c t="inlineStr"><is><t>`),
      inner,
      Buffer.from('</t></is></c></row></sheetData></worksheet>'),
    ]);
  const withSheet = (xml: Buffer) =>
    buildZip([
      {
        name: 'xl/workbook.xml',
        data: Buffer.from(
          `<workbook xmlns="${MAIN_NS}" xmlns:r="${REL_NS}"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>`,
        ),
      },
      {
        name: 'xl/_rels/workbook.xml.rels',
        data: Buffer.from(
          `<Relationships xmlns="${PKG_NS}"><Relationship Id="rId1" Type="${REL_NS}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>`,
        ),
      },
      { name: 'xl/worksheets/sheet1.xml', data: xml },
    ]);

  it('refuses bytes that are not UTF-8 instead of replacing them with U+FFFD', async () => {
    const e = await failure(await file('erp.xlsx', withSheet(sheetBytes(Buffer.from([0x41, 0xe9, 0x42])))));
    expect(e.message).toBe(
      'erp.xlsx cannot be read as an xlsx workbook (xl/worksheets/sheet1.xml: bytes that are not UTF-8 text): export it again from Excel and drop it again',
    );
  });

  it('refuses a part that ends inside a character', async () => {
    const e = await failure(
      await file(
        'erp.xlsx',
        withSheet(
          Buffer.concat([
            Buffer.from(`<worksheet xmlns="${MAIN_NS}"><sheetData><row><c t="inlineStr"><is><t>`),
            Buffer.from([0xe2, 0x82]),
          ]),
        ),
      ),
    );
    expect(e.message).toBe(
      'erp.xlsx cannot be read as an xlsx workbook (xl/worksheets/sheet1.xml: bytes that are not UTF-8 text): export it again from Excel and drop it again',
    );
  });

  it('reads a part in UTF-16 (with its byte-order mark) and a UTF-8 one with a byte-order mark', async () => {
    const xml = `<worksheet xmlns="${MAIN_NS}"><sheetData><row><c t="inlineStr"><is><t>t\u00eate</t></is></c></row><row><c t="inlineStr"><is><t>\u20ac</t></is></c></row></sheetData></worksheet>`;
    const spec: SourceSpec = { ...ERP, file: 'x.xlsx', columns: [{ name: 't\u00eate', type: 'text', sql: 'VARCHAR' }] };
    for (const bytes of [
      Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(xml, 'utf16le')]),
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(xml)]),
    ]) {
      expect((await readSheet(await file('x.xlsx', withSheet(bytes)), spec)).rows).toEqual([
        { 't\u00eate': '\u20ac', _row: 2 },
      ]);
    }
  });
});
