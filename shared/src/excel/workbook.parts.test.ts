import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BottleneckError } from '../errors/index.js';
import { buildZip } from '../testing/workbook.js';
import { MAIN_NS, PKG_NS, REL_NS, rowXml } from '../testing/xlsx-parts.js';
import { readSheetValues } from './read.js';
import { decodeExcelEscapes } from './workbook.js';

// The workbook's structure as readWorkbookInfo finds it (package relationships, the workbook's,
// strict and transitional namespaces, part names in any case) and the styles and shared strings it
// points to, seen through what the reader returns or refuses. Zips built entry by entry in memory.

let dir: string;
let n = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bn-workbook-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const STRICT_MAIN = 'http://purl.oclc.org/ooxml/spreadsheetml/main';
const STRICT_REL = 'http://purl.oclc.org/ooxml/officeDocument/relationships';
const SHEET = `<worksheet xmlns="${MAIN_NS}"><sheetData>${rowXml(1, ['a', 1])}</sheetData></worksheet>`;

async function zipOf(entries: Record<string, string>): Promise<string> {
  const p = join(dir, `${++n}.xlsx`);
  await writeFile(p, buildZip(Object.entries(entries).map(([name, data]) => ({ name, data: Buffer.from(data) }))));
  return p;
}
const rels = (...r: string[]) => `<Relationships xmlns="${PKG_NS}">${r.join('')}</Relationships>`;
const rel = (id: string, type: string, target: string, external = false) =>
  `<Relationship Id="${id}" Type="${type}" Target="${target}"${external ? ' TargetMode="External"' : ''}/>`;
const book = (sheets: string, ns = MAIN_NS, relNs = REL_NS, pr = '') =>
  `<workbook xmlns="${ns}" xmlns:r="${relNs}">${pr}<sheets>${sheets}</sheets></workbook>`;
const values = (p: string, sheet = 'Sheet1') => readSheetValues(p, 'w.xlsx', sheet);
async function refusal(p: Promise<unknown>): Promise<BottleneckError> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(BottleneckError);
  return e as BottleneckError;
}

describe('readWorkbookInfo: where the workbook and its sheets are', () => {
  it('follows the package relationships to a workbook part of another name, skipping an external one', async () => {
    const p = await zipOf({
      '_rels/.rels': rels(
        rel('rId0', `${REL_NS}/officeDocument`, 'http://example.com/book.xml', true),
        rel('rId9', `${REL_NS}/extended-properties`, 'docProps/app.xml'),
        rel('rId1', `${REL_NS}/officeDocument`, '/data/book.xml'),
      ),
      'data/book.xml': book('<sheet name="Sheet1" sheetId="1" r:id="s1"/>'),
      'data/_rels/book.xml.rels': rels(rel('s1', `${REL_NS}/worksheet`, 'sheets/one.xml')),
      'data/sheets/one.xml': SHEET,
    });
    expect(await values(p)).toEqual({ rows: [['a', 1]], rowNumbers: [1] });
  });

  it('reads a workbook in the strict namespaces (ISO 29500)', async () => {
    const p = await zipOf({
      'xl/workbook.xml': book('<sheet name="Sheet1" sheetId="1" r:id="rId1"/>', STRICT_MAIN, STRICT_REL),
      'xl/_rels/workbook.xml.rels': rels(rel('rId1', `${STRICT_REL}/worksheet`, 'worksheets/sheet1.xml')),
      'xl/worksheets/sheet1.xml': `<worksheet xmlns="${STRICT_MAIN}"><sheetData>${rowXml(1, ['s'])}</sheetData></worksheet>`,
    });
    expect((await values(p)).rows).toEqual([['s']]);
  });

  it('finds parts whatever the case their relationships spell them in', async () => {
    const p = await zipOf({
      '_rels/.rels': rels(rel('rId1', `${REL_NS}/officeDocument`, 'XL/Workbook.xml')),
      'xl/workbook.xml': book('<sheet name="Sheet1" sheetId="1" r:id="rId1"/>'),
      'xl/_rels/workbook.xml.rels': rels(rel('rId1', `${REL_NS}/worksheet`, 'Worksheets/SHEET1.xml')),
      'xl/worksheets/sheet1.xml': SHEET,
    });
    expect((await values(p)).rows).toEqual([['a', 1]]);
  });

  it('refuses a zip without the workbook part, naming the part looked for', async () => {
    const none = await refusal(values(await zipOf({ 'docProps/app.xml': '<Properties/>' })));
    expect(none).toMatchObject({
      code: 'BN_ERR_INPUT_NOT_XLSX',
      message: 'w.xlsx is a zip file but not an xlsx workbook (no xl/workbook.xml)',
      location: { file: 'w.xlsx' },
    });
    const elsewhere = await refusal(
      values(await zipOf({ '_rels/.rels': rels(rel('rId1', `${REL_NS}/officeDocument`, 'book/main.xml')) })),
    );
    expect(elsewhere.message).toBe('w.xlsx is a zip file but not an xlsx workbook (no book/main.xml)');
  });

  it('a sheet whose relationship is external, of another kind or absent is no worksheet to read', async () => {
    const p = await zipOf({
      'xl/workbook.xml': book(
        '<sheet name="Ext" sheetId="1" r:id="rId1"/><sheet name="Odd" sheetId="2" r:id="rId2"/><sheet name="NoRel" sheetId="3"/>' +
          '<sheet name="Lost" sheetId="4" r:id="rId9"/><sheet name="Sheet1" sheetId="5" r:id="rId5"/>',
      ),
      'xl/_rels/workbook.xml.rels': rels(
        rel('rId1', `${REL_NS}/worksheet`, 'worksheets/sheet1.xml', true),
        rel('rId2', 'http://example.com/relationships/worksheet', 'worksheets/sheet1.xml'),
        rel('rId5', `${REL_NS}/worksheet`, 'worksheets/sheet1.xml'),
      ),
      'xl/worksheets/sheet1.xml': SHEET,
    });
    expect((await values(p)).rows).toEqual([['a', 1]]);
    for (const [name, why] of [
      ['Ext', 'is not a worksheet (a chart or dialog sheet)'],
      ['Odd', 'is not a worksheet (a chart or dialog sheet)'],
      ['NoRel', 'is not a worksheet (a chart or dialog sheet)'],
      ['Lost', 'is not a worksheet (a chart or dialog sheet)'],
    ])
      expect((await refusal(values(p, name))).message, name).toBe(
        `w.xlsx: sheet "${name}" ${why}; export it again from Excel and drop it again`,
      );
  });

  it('the 1904 date system when workbookPr says 1 or true, not otherwise', async () => {
    const sheet = `<worksheet xmlns="${MAIN_NS}"><sheetData><row r="1"><c r="A1" s="1"><v>0</v></c></row></sheetData></worksheet>`;
    const of = async (pr: string) =>
      (
        await values(
          await zipOf({
            'xl/workbook.xml': book('<sheet name="Sheet1" sheetId="1" r:id="rId1"/>', MAIN_NS, REL_NS, pr),
            'xl/_rels/workbook.xml.rels': rels(
              rel('rId1', `${REL_NS}/worksheet`, 'worksheets/sheet1.xml'),
              rel('rId2', `${REL_NS}/styles`, 'styles.xml'),
            ),
            'xl/worksheets/sheet1.xml': sheet,
            'xl/styles.xml': `<styleSheet xmlns="${MAIN_NS}"><cellXfs><xf numFmtId="0"/><xf numFmtId="14"/></cellXfs></styleSheet>`,
          }),
        )
      ).rows[0]![0];
    const d1904 = new Date(Date.UTC(1904, 0, 1));
    const d1900 = new Date(Date.UTC(1899, 11, 31));
    expect(await of('<workbookPr date1904="1"/>')).toEqual(d1904);
    expect(await of('<workbookPr date1904="true"/>')).toEqual(d1904);
    expect(await of('<workbookPr date1904="0"/>')).toEqual(d1900);
    expect(await of('<workbookPr/>')).toEqual(d1900);
  });

  it('shared strings and styles only through their relationships, an external one ignored', async () => {
    const sheet = `<worksheet xmlns="${MAIN_NS}"><sheetData><row r="1"><c r="A1" t="s" s="1"><v>0</v></c><c r="B1" s="1"><v>1</v></c></row></sheetData></worksheet>`;
    const parts = {
      'xl/workbook.xml': book('<sheet name="Sheet1" sheetId="1" r:id="rId1"/>'),
      'xl/worksheets/sheet1.xml': sheet,
      'xl/strings.xml': `<sst xmlns="${MAIN_NS}"><si><t>found</t></si></sst>`,
      'xl/sharedStrings.xml': `<sst xmlns="${MAIN_NS}"><si><t>conventional</t></si></sst>`,
      'xl/look.xml': `<styleSheet xmlns="${MAIN_NS}"><cellXfs><xf/><xf numFmtId="14"/></cellXfs></styleSheet>`,
    };
    const p = await zipOf({
      ...parts,
      'xl/_rels/workbook.xml.rels': rels(
        rel('rId1', `${REL_NS}/worksheet`, 'worksheets/sheet1.xml'),
        rel('rId7', `${REL_NS}/sharedStrings`, 'http://example.com/strings.xml', true),
        rel('rId2', `${REL_NS}/sharedStrings`, 'strings.xml'),
        rel('rId3', `${REL_NS}/styles`, 'look.xml'),
      ),
    });
    expect((await values(p)).rows).toEqual([['found', new Date(Date.UTC(1900, 0, 1))]]);
    const without = await zipOf({
      ...parts,
      'xl/_rels/workbook.xml.rels': rels(rel('rId1', `${REL_NS}/worksheet`, 'worksheets/sheet1.xml')),
    });
    expect((await refusal(values(without))).message).toMatch(/cell A1 refers to shared string "0"/);
  });
});

describe('readDateStyles: which cell styles are dates', () => {
  it("only cellXfs' formats count, not cellStyleXfs'; an xf without numFmtId is General", async () => {
    const p = join(dir, `${++n}.xlsx`);
    // cellStyleXfs and dxfs beside cellXfs, and a built-in id redefined: by hand.
    const withStyles = buildZip([
      { name: 'xl/workbook.xml', data: Buffer.from(book('<sheet name="Sheet1" sheetId="1" r:id="rId1"/>')) },
      {
        name: 'xl/_rels/workbook.xml.rels',
        data: Buffer.from(
          rels(
            rel('rId1', `${REL_NS}/worksheet`, 'worksheets/sheet1.xml'),
            rel('rId2', `${REL_NS}/styles`, 'styles.xml'),
          ),
        ),
      },
      {
        name: 'xl/worksheets/sheet1.xml',
        data: Buffer.from(
          `<worksheet xmlns="${MAIN_NS}"><sheetData><row r="1"><c r="A1" s="0"><v>1</v></c><c r="B1" s="1"><v>1</v></c><c r="C1" s="2"><v>1</v></c><c r="D1" s="3"><v>1</v></c></row></sheetData></worksheet>`,
        ),
      },
      {
        name: 'xl/styles.xml',
        data: Buffer.from(
          `<styleSheet xmlns="${MAIN_NS}"><numFmts><numFmt numFmtId="14" formatCode="0.00"/><numFmt numFmtId="170" formatCode="dd/mm"/></numFmts>` +
            `<cellStyleXfs><xf numFmtId="22"/><xf numFmtId="22"/><xf numFmtId="22"/></cellStyleXfs>` +
            `<cellXfs><xf numFmtId="22"/><xf/><xf numFmtId="14"/><xf numFmtId="170"/></cellXfs><dxfs><xf numFmtId="22"/></dxfs></styleSheet>`,
        ),
      },
    ]);
    await writeFile(p, withStyles);
    const day1 = new Date(Date.UTC(1900, 0, 1));
    // s=2 is numFmtId 14, redefined as a number format: the custom code wins over the built-in.
    expect((await values(p)).rows).toEqual([[day1, 1, 1, day1]]);
  });
});

describe('decodeExcelEscapes: only four hexadecimal digits', () => {
  it('decodes 0-9, A-F and a-f, and nothing next to them', () => {
    expect(decodeExcelEscapes('_x0009__x00aF__x00Af_')).toBe('\t\u00af\u00af');
    for (const s of ['_x00/0_', '_x00:0_', '_x00@0_', '_x00G0_', '_x00`0_', '_x00g0_', '_x004_', '_x0041'])
      expect(decodeExcelEscapes(s), s).toBe(s);
    expect(decodeExcelEscapes('__x0041_')).toBe('_A');
    expect(decodeExcelEscapes('x_x0041__x0042_y')).toBe('xABy');
  });
});
