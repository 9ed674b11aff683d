import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The reader is the source (so that mutation testing sees the split's main-thread side run); the
// worker it starts runs compiled code, dist's split-worker.js, given to every split read below.
import { DEFAULT_READ_LIMITS, readSheetChecked, type ReadLimits, type SplitOptions } from './read.js';
import { SOURCES } from '../sources.js';
import { buildZip } from '../testing/workbook.js';

const ERP = SOURCES.erp;
const MAIN_NS = 'http://schemas.openxmlformats.org/spreadsheetml/2006/main';
const REL_NS = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships';
const PKG_NS = 'http://schemas.openxmlformats.org/package/2006/relationships';
/** The shared strings of the test workbooks: accents, and a string that UTF-8 needs 3 bytes for. */
const SHARED = ['instock', 'épuisé', 'sur commande €'];
/** Bytes zlib hands the parser at a time (zip.ts CHUNK). */
const CHUNK = 256 * 1024;

let dir: string;
let n = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bn-split-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const inline = (s: string) => `<c t="inlineStr"><is><t>${s}</t></is></c>`;
const HEADER_ROW = `<row r="1">${['product_id', 'onsale_web', 'price', 'stock_quantity', 'stock_status'].map(inline).join('')}</row>`;

/** Data row k (Excel row k + 1): every cell type the ERP spec reads, a shared string, `pad` characters of inline text. */
function dataRow(k: number, opts: { numbered?: boolean; pad?: number; status?: string } = {}): string {
  const r = opts.numbered === false ? '' : ` r="${k + 1}"`;
  const status =
    opts.status ?? (opts.pad ? inline(`x${'y'.repeat(opts.pad)}`) : `<c t="s"><v>${k % SHARED.length}</v></c>`);
  return `<row${r}><c><v>${k}</v></c><c><v>${k % 2}</v></c><c><v>${k}.25</v></c><c><v>${k % 7}</v></c>${status}</row>`;
}

function sheetXml(rows: string[]): string {
  return `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="${MAIN_NS}"><sheetData>${rows.join('')}</sheetData></worksheet>`;
}

/** A workbook of one sheet "Sheet1" with this XML and the shared strings above. */
async function workbook(xml: string, crc?: number): Promise<string> {
  const wb = `<workbook xmlns="${MAIN_NS}" xmlns:r="${REL_NS}"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>`;
  const rels = `<Relationships xmlns="${PKG_NS}"><Relationship Id="rId1" Type="${REL_NS}/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="${REL_NS}/sharedStrings" Target="sharedStrings.xml"/></Relationships>`;
  const sst = `<sst xmlns="${MAIN_NS}">${SHARED.map((s) => `<si><t>${s}</t></si>`).join('')}</sst>`;
  const p = join(dir, `erp-${++n}.xlsx`);
  await writeFile(
    p,
    buildZip([
      { name: 'xl/workbook.xml', data: Buffer.from(wb) },
      { name: 'xl/_rels/workbook.xml.rels', data: Buffer.from(rels) },
      { name: 'xl/worksheets/sheet1.xml', data: Buffer.from(xml), ...(crc === undefined ? {} : { crc }) },
      { name: 'xl/sharedStrings.xml', data: Buffer.from(sst) },
    ]),
  );
  return p;
}

const DIST_WORKER = new URL('../../dist/excel/split-worker.js', import.meta.url);

async function read(p: string, split?: SplitOptions, limits: ReadLimits = DEFAULT_READ_LIMITS) {
  const rows: unknown[][] = [];
  const opts = split ? { split: { workerUrl: DIST_WORKER, ...split } } : {};
  const r = await readSheetChecked(p, ERP, limits, { row: (v, row) => rows.push([...v, row]) }, opts);
  return { rows, sheet: r.sheet, split: r.split };
}

async function failure(p: string, split?: SplitOptions, limits: ReadLimits = DEFAULT_READ_LIMITS) {
  return read(p, split, limits).then(
    () => {
      throw new Error('the read did not fail');
    },
    (e: unknown) => e as Error & { code: string; location: unknown },
  );
}

/** Byte offset of the n-th `<row` start tag of the XML (all ASCII here). */
const rowAt = (xml: string, k: number) => {
  let at = -1;
  for (let i = 0; i <= k; i++) at = xml.indexOf('<row', at + 1);
  return at;
};

describe('a sheet read on two threads (split)', () => {
  const rows = [HEADER_ROW];
  for (let k = 1; k <= 9000; k++) rows.push(k % 1000 === 0 ? `<row r="${k + 1}"/>` : dataRow(k));
  const xml = sheetXml(rows);

  it('gives the rows and summary of a read on one thread, whatever byte the cut is asked at (inside a row, at one)', async () => {
    const p = await workbook(xml);
    const single = await read(p);
    expect(single.rows).toHaveLength(8991);
    expect(single.sheet.blankRows).toBe(9);
    expect(single.rows[1]).toEqual([2, 0, '2.25', 2, 'sur commande €', 3]);
    // Inside a row's cells, right at a row's start tag, one byte into it, near the end.
    for (const from of [
      xml.indexOf('<c>', rowAt(xml, 4000)) + 1,
      rowAt(xml, 4500),
      rowAt(xml, 4500) + 1,
      xml.length - 200,
    ]) {
      const split = await read(p, { minBytes: 0, from });
      expect(split.rows).toEqual(single.rows);
      expect(split.sheet).toEqual(single.sheet);
      expect(split.split?.workerDone).toBe(true);
      expect(split.split?.cut).toBeGreaterThanOrEqual(from);
      expect(xml.slice(split.split?.cut ?? 0).startsWith('<row r=')).toBe(true);
      expect(split.split?.workerRows).toBeGreaterThan(0);
    }
  });

  it('cuts where a row start tag spans two of the inflated chunks', async () => {
    const build = (pad: number) => {
      const body = [HEADER_ROW, dataRow(1, { pad })];
      for (let k = 2; k < 6000; k++) body.push(dataRow(k));
      return sheetXml(body);
    };
    // Pads one cell so that a row's start tag begins 2 bytes before the end of the first chunk.
    const first = build(10);
    let k = 1;
    while (rowAt(first, k + 1) < CHUNK - 2) k++;
    const straddling = build(10 + CHUNK - 2 - rowAt(first, k));
    const at = rowAt(straddling, k);
    expect(at).toBe(CHUNK - 2);
    const p = await workbook(straddling);
    const single = await read(p);
    const split = await read(p, { minBytes: 0, from: at - 3 });
    expect(split.split).toEqual({ cut: at, workerRows: single.rows.length - (k - 1), workerDone: true });
    expect(split.rows).toEqual(single.rows);
  });

  it('reads with one thread, the same rows, when the worker cannot start', async () => {
    const p = await workbook(xml);
    const single = await read(p);
    const split = await read(p, { minBytes: 0, workerUrl: new URL('file:///nonexistent/split-worker.js') });
    expect(split.split).toMatchObject({ workerRows: 0, workerDone: false });
    expect(split.rows).toEqual(single.rows);
  });

  it('parses on from the cut, past the rows appended already, when the worker dies after its first batch', async () => {
    // The real worker, made to exit right after posting its first batch of rows.
    const dying = join(dir, 'dying-worker.mjs');
    const real = new URL('../../dist/excel/split-worker.js', import.meta.url).href;
    await writeFile(
      dying,
      `import { parentPort } from 'node:worker_threads';
const post = parentPort.postMessage.bind(parentPort);
parentPort.postMessage = (m, t) => { post(m, t); if (m.type === 'batch') process.exit(3); };
await import(${JSON.stringify(real)});`,
    );
    const p = await workbook(xml);
    const single = await read(p);
    const split = await read(p, { minBytes: 0, from: rowAt(xml, 2000), workerUrl: pathToFileURL(dying) });
    expect(split.split).toMatchObject({ workerRows: 4096, workerDone: false });
    expect(split.rows).toEqual(single.rows);
    expect(split.sheet).toEqual(single.sheet);
  });

  it('reads with one thread when the first row after the cut has no number (it counts on from the row before)', async () => {
    const unnumbered = [HEADER_ROW];
    for (let k = 1; k <= 3000; k++) unnumbered.push(dataRow(k, { numbered: k % 2 === 0 }));
    const x = sheetXml(unnumbered);
    const p = await workbook(x);
    const single = await read(p);
    // The row at the cut (row 2001, k = 2000) is numbered: the worker reads; cut before row k = 2001: it does not.
    const ok = await read(p, { minBytes: 0, from: rowAt(x, 2000) });
    expect(ok.split?.workerDone).toBe(true);
    expect(ok.rows).toEqual(single.rows);
    const no = await read(p, { minBytes: 0, from: rowAt(x, 2001) });
    expect(no.split).toMatchObject({ workerRows: 0, workerDone: false });
    expect(no.rows).toEqual(single.rows);
    expect(no.rows.at(-1)).toEqual([3000, 0, '3000.25', 4, 'instock', 3001]);
  });

  it('does not cut after a comment or CDATA that began before the cut: rows in a comment stay out', async () => {
    const commented = [HEADER_ROW];
    for (let k = 1; k <= 3000; k++) commented.push(dataRow(k));
    // A comment opening before the cut and closing after it, holding rows.
    commented.splice(1500, 0, '<!-- hidden: ');
    commented.splice(1600, 0, ' -->');
    const x = sheetXml(commented);
    const p = await workbook(x);
    const single = await read(p);
    expect(single.rows).toHaveLength(3000 - 99);
    const split = await read(p, { minBytes: 0, from: rowAt(x, 1550) });
    expect(split.split?.workerDone).toBe(false);
    expect(split.rows).toEqual(single.rows);
  });

  it('an error in a row after the cut names that row, as a read on one thread does, rows appended already or not', async () => {
    for (const bad of [2500, 8500]) {
      const rows = [HEADER_ROW];
      for (let k = 1; k <= 9000; k++)
        rows.push(
          k === bad
            ? `<row r="${k + 1}"><c><v>${k}</v></c>${inline('vingt')}<c><v>1</v></c><c><v>1</v></c><c t="s"><v>0</v></c></row>`
            : dataRow(k),
        );
      const x = sheetXml(rows);
      const p = await workbook(x);
      // A row limit above the rows read: rows read twice would pass it.
      const limits = { ...DEFAULT_READ_LIMITS, maxRows: 8990 };
      const one = await failure(p, undefined, limits);
      expect(one.message).toContain(`column "onsale_web", row ${bad + 1}: "vingt"`);
      const two = await failure(p, { minBytes: 0, from: rowAt(x, 2000) }, limits);
      expect(two.message).toBe(one.message);
      expect(two).toMatchObject({ code: one.code, location: one.location });
    }
  });

  it('the row limit falls where it falls on one thread, in the rows from the worker', async () => {
    const p = await workbook(xml);
    for (const maxRows of [2500, 8990]) {
      const limits = { ...DEFAULT_READ_LIMITS, maxRows };
      const one = await failure(p, undefined, limits);
      const two = await failure(p, { minBytes: 0, from: rowAt(xml, 2000) }, limits);
      expect(two.message).toBe(one.message);
      expect(two.location).toEqual(one.location);
    }
  });

  it('a damaged sheet fails by its CRC, as on one thread, and a bad value before the damage by that value', async () => {
    const one = await failure(await workbook(xml, 12345));
    expect(one.message).toBe(
      'erp.xlsx is corrupt: zip entry xl/worksheets/sheet1.xml fails its CRC-32 check; export it again from Excel and drop it again',
    );
    const two = await failure(await workbook(xml, 12345), { minBytes: 0, from: rowAt(xml, 2000) });
    expect(two.message).toBe(one.message);
    // Bytes flipped late in the compressed sheet: whatever the single read reports, the split one does.
    const p = await workbook(xml);
    const bytes = Buffer.from(await readFile(p));
    const sheetStart = bytes.indexOf('xl/worksheets/sheet1.xml') + 'xl/worksheets/sheet1.xml'.length;
    const at = bytes.indexOf('PK\u0003\u0004', sheetStart) - 50;
    bytes.writeUInt8((bytes.readUInt8(at) ^ 0xff) & 0xff, at);
    const q = join(dir, 'damaged.xlsx');
    await writeFile(q, bytes);
    const three = await failure(q);
    const four = await failure(q, { minBytes: 0, from: rowAt(xml, 2000) });
    expect(four.message).toBe(three.message);
  });

  it('is not used below its size (the reference month reads on one thread), nor above its largest', async () => {
    const p = await workbook(xml);
    expect((await read(p, {})).split).toBeUndefined();
    // Nor above its largest size (the million-row month).
    expect((await read(p, { minBytes: 0, maxBytes: 1000 })).split).toBeUndefined();
    expect((await read(p, { minBytes: 0, maxBytes: xml.length })).split?.workerDone).toBe(true);
    const r = await readSheetChecked(p, ERP, DEFAULT_READ_LIMITS, { row: () => undefined });
    expect(r.split).toBeUndefined();
  });
});
