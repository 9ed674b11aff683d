import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERP_COLUMNS, LIAISON_COLUMNS, WEB_COLUMNS, generateMonth, type GeneratedMonth } from './index.js';
import { EXCEL_ENTRY_ORDER } from './zip.js';

type Cell = string | number | boolean | Date | null;

const REFERENCE_DIR = fileURLToPath(new URL('../../../../shared/data/reference/', import.meta.url));
const hasReference = existsSync(path.join(REFERENCE_DIR, 'web.xlsx'));

const tmpDirs: string[] = [];
async function tmp(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'bottleneck-gen-'));
  tmpDirs.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(tmpDirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function sha256(file: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(file))
    .digest('hex');
}

/** Rows of Sheet1 through exceljs's streaming reader, header first, one value per column. */
async function readSheet(file: string): Promise<Cell[][]> {
  const reader = new ExcelJS.stream.xlsx.WorkbookReader(file, {
    sharedStrings: 'cache',
    styles: 'cache',
    worksheets: 'emit',
    hyperlinks: 'ignore',
    entries: 'ignore',
  });
  const raw: unknown[][] = [];
  for await (const ws of reader) {
    for await (const row of ws) raw.push((row.values as unknown[]).slice(1));
  }
  const width = raw[0]?.length ?? 0;
  return raw.map((values) => Array.from({ length: width }, (_, i) => (values[i] ?? null) as Cell));
}

/** Entry names in file order, read from the zip's central directory. */
async function zipEntries(file: string): Promise<{ name: string; dosDate: number; dosTime: number }[]> {
  const zip = await readFile(file);
  let eocd = zip.length - 22;
  while (eocd >= 0 && zip.readUInt32LE(eocd) !== 0x06054b50) eocd--;
  const out: { name: string; dosDate: number; dosTime: number }[] = [];
  let p = zip.readUInt32LE(eocd + 16);
  for (let n = zip.readUInt16LE(eocd + 10); n > 0; n--) {
    const nameLen = zip.readUInt16LE(p + 28);
    out.push({
      name: zip.toString('utf8', p + 46, p + 46 + nameLen),
      dosTime: zip.readUInt16LE(p + 12),
      dosDate: zip.readUInt16LE(p + 14),
    });
    p += 46 + nameLen + zip.readUInt16LE(p + 30) + zip.readUInt16LE(p + 32);
  }
  return out;
}

const typeOf = (v: Cell | undefined): string =>
  v === null || v === undefined ? 'empty' : v instanceof Date ? 'date' : typeof v;
const rowKey = (row: Cell[]): string => JSON.stringify(row);
const trimmed = (v: Cell | undefined): string => String(v).trim();

interface Month {
  gen: GeneratedMonth;
  erp: Cell[][];
  web: Cell[][];
  liaison: Cell[][];
}
async function generateAndRead(scale: number, seed: number): Promise<Month> {
  const gen = await generateMonth({ outDir: await tmp(), scale, seed });
  const [erp, web, liaison] = await Promise.all([
    readSheet(gen.files.erp),
    readSheet(gen.files.web),
    readSheet(gen.files.liaison),
  ]);
  return { gen, erp, web, liaison };
}

const col = (columns: readonly string[], name: string): number => {
  const i = columns.indexOf(name);
  if (i < 0) throw new Error(`no column ${name}`);
  return i;
};
const W = (name: (typeof WEB_COLUMNS)[number]): number => col(WEB_COLUMNS, name);

function exactDuplicates(rows: Cell[][]): number {
  const seen = new Set<string>();
  let dups = 0;
  for (const row of rows) {
    const key = rowKey(row);
    if (seen.has(key)) dups++;
    else seen.add(key);
  }
  return dups;
}

/**
 * An independent, deliberately plain implementation of the reference cleaning and
 * merge, to check the generator's ground truth.
 */
function cleanAndMerge(m: Month): { webClean: number; merged: number; revenue: number; premium: number } {
  const webRows = [...new Map(m.web.slice(1).map((r) => [rowKey(r), r])).values()];
  const latest = new Map<string, Cell[]>();
  for (const r of webRows) {
    if (r[W('post_type')] !== 'product' || r[W('sku')] === null) continue;
    const sku = trimmed(r[W('sku')]);
    const prev = latest.get(sku);
    const modified = (r[W('post_modified')] as Date).getTime();
    if (!prev || (prev[W('post_modified')] as Date).getTime() < modified) latest.set(sku, r);
  }
  const erp = new Map(m.erp.slice(1).map((r) => [r[0] as number, r]));
  const link = new Map<string, number>();
  for (const r of m.liaison.slice(1)) if (r[1] !== null) link.set(trimmed(r[1]), r[0] as number);
  let revenueCents = 0;
  const prices: number[] = [];
  for (const [sku, r] of latest) {
    const pid = link.get(sku);
    const e = pid === undefined ? undefined : erp.get(pid);
    if (!e) continue;
    const price = e[2] as number;
    prices.push(price);
    revenueCents += Math.round(price * 100) * (r[W('total_sales')] as number);
  }
  const mean = prices.reduce((s, x) => s + x, 0) / prices.length;
  const sd = Math.sqrt(prices.reduce((s, x) => s + (x - mean) ** 2, 0) / (prices.length - 1));
  return {
    webClean: latest.size,
    merged: prices.length,
    revenue: revenueCents / 100,
    premium: prices.filter((x) => (x - mean) / sd > 2).length,
  };
}

describe('generateMonth', () => {
  let k1: Month;
  beforeAll(async () => {
    k1 = await generateAndRead(1, 1);
  }, 60_000);

  it('is deterministic: same seed and scale give byte-identical files, another seed does not', async () => {
    const [a, b, c] = await Promise.all([
      generateMonth({ outDir: await tmp(), seed: 42 }),
      generateMonth({ outDir: await tmp(), seed: 42 }),
      generateMonth({ outDir: await tmp(), seed: 43 }),
    ]);
    for (const f of ['erp', 'web', 'liaison'] as const) {
      expect(await sha256(a.files[f]), f).toBe(await sha256(b.files[f]));
      expect(await sha256(a.files[f]), f).not.toBe(await sha256(c.files[f]));
    }
  }, 60_000);

  it('defaults to seed 1 and scale 1', async () => {
    const d = await generateMonth({ outDir: await tmp() });
    expect(await sha256(d.files.web)).toBe(await sha256(k1.gen.files.web));
    expect(d.products).toBe(825);
  }, 60_000);

  it('rejects a bad scale or seed', async () => {
    await expect(generateMonth({ outDir: await tmp(), scale: 0 })).rejects.toThrow(RangeError);
    await expect(generateMonth({ outDir: await tmp(), scale: 0.01 })).rejects.toThrow(/too small/);
    await expect(generateMonth({ outDir: await tmp(), seed: 1.5 })).rejects.toThrow(RangeError);
  });

  it('writes the reference sizes at K=1 and reports the row counts it wrote', () => {
    const { gen, erp, web, liaison } = k1;
    expect(gen.products).toBe(825);
    expect(gen.erpRows).toBe(erp.length - 1);
    expect(gen.webRows).toBe(web.length - 1);
    expect(gen.liaisonRows).toBe(liaison.length - 1);
    expect(new Set(erp.slice(1).map((r) => r[0])).size).toBe(825);
    expect(gen.webRows).toBeGreaterThan(1450);
    expect(gen.webRows).toBeLessThan(1600);
    expect(erp[0]).toEqual([...ERP_COLUMNS]);
    expect(web[0]).toEqual([...WEB_COLUMNS]);
    expect(liaison[0]).toEqual([...LIAISON_COLUMNS]);
  });

  it('scales: K=2 has about twice the rows', async () => {
    const k2 = await generateAndRead(2, 1);
    expect(k2.gen.products).toBe(1650);
    for (const f of ['erpRows', 'webRows', 'liaisonRows'] as const) {
      const ratio = k2.gen[f] / k1.gen[f];
      expect(ratio, f).toBeGreaterThan(1.95);
      expect(ratio, f).toBeLessThan(2.05);
    }
    expect(k2.gen.anomalies.webBlankRows).toBe(166);
  }, 60_000);

  it('writes web.xlsx as dirty as the real export', () => {
    const rows = k1.web.slice(1);
    const a = k1.gen.anomalies;
    const type = (r: Cell[]): Cell => r[W('post_type')] ?? null;
    const attachments = rows.filter((r) => type(r) === 'attachment');
    const products = rows.filter((r) => type(r) === 'product');
    const blanks = rows.filter((r) => type(r) === null);

    expect(attachments.length).toBe(a.webAttachmentRows);
    expect(attachments.length / rows.length).toBeGreaterThan(0.45);
    for (const r of attachments) {
      expect(r[W('post_mime_type')]).toBe('image/jpeg');
      expect(String(r[W('guid')])).toMatch(
        /^https:\/\/www\.bottle-neck\.fr\/wp-content\/uploads\/\d{4}\/\d{2}\/.+\.jpg$/,
      );
    }
    for (const r of products) {
      expect(String(r[W('guid')])).toMatch(/^https:\/\/www\.bottle-neck\.fr\/\?post_type=product&#038;p=\d+$/);
    }

    // blank rows: only virtual, downloadable and rating_count, all 0
    expect(blanks.length).toBe(83);
    for (const r of blanks) expect(r).toEqual([null, 0, 0, 0, ...Array(24).fill(null)]);

    // product rows without sku
    expect(products.filter((r) => r[W('sku')] === null).length).toBe(2);

    // every sku'd product has an attachment with the same sku and total_sales
    const attachmentBySku = new Map(attachments.map((r) => [rowKey([r[W('sku')] ?? null]), r]));
    for (const r of products.filter((p) => p[W('sku')] !== null)) {
      const att = attachmentBySku.get(rowKey([r[W('sku')] ?? null]));
      expect(att, `attachment for ${String(r[W('sku')])}`).toBeDefined();
    }

    // exact duplicates (blank rows aside, which are all alike)
    const dups = exactDuplicates(rows.filter((r) => type(r) !== null));
    expect(dups).toBe(a.webExactDuplicates);
    expect(dups).toBeGreaterThanOrEqual(2);

    // non-numeric skus: a gift card and 'NNNNN-1' variants; padded numeric skus
    const skus = [...new Set(products.map((r) => r[W('sku')]).filter((s) => s !== null))];
    const nonNumeric = skus.filter((s) => !/^\d+$/.test(trimmed(s)));
    expect(nonNumeric.length).toBe(a.nonNumericSkus);
    expect(nonNumeric).toContain('bon-cadeau-25-euros');
    expect(nonNumeric.some((s) => /^\d+-1$/.test(String(s)))).toBe(true);
    const padded = skus.filter((s) => typeof s === 'string' && s !== s.trim());
    expect(padded.length).toBe(a.paddedWebSkus);

    // a sku with two different product rows, differing by post_modified and total_sales
    const distinct = [...new Map(products.map((r) => [rowKey(r), r])).values()];
    const bySku = new Map<string, Cell[][]>();
    for (const r of distinct) {
      if (r[W('sku')] === null) continue;
      const key = trimmed(r[W('sku')]);
      bySku.set(key, [...(bySku.get(key) ?? []), r]);
    }
    const stale = [...bySku.values()].filter((rs) => rs.length > 1);
    expect(stale.length).toBe(a.staleWebSkus);
    for (const [x, y] of stale as [Cell[], Cell[]][]) {
      expect((x[W('post_modified')] as Date).getTime()).not.toBe((y[W('post_modified')] as Date).getTime());
      expect(x[W('total_sales')]).not.toBe(y[W('total_sales')]);
    }

    // cell types: real dates, numbers, strings
    const p = products[0] as Cell[];
    expect(p[W('post_date')]).toBeInstanceOf(Date);
    expect(p[W('post_modified_gmt')]).toBeInstanceOf(Date);
    expect(typeof p[W('total_sales')]).toBe('number');
  });

  it('writes erp.xlsx and liaison.xlsx as dirty as the real exports', () => {
    const erp = k1.erp.slice(1);
    const liaison = k1.liaison.slice(1);
    const a = k1.gen.anomalies;

    expect(exactDuplicates(erp)).toBe(a.erpExactDuplicates);
    expect(exactDuplicates(liaison)).toBe(a.liaisonExactDuplicates);
    expect(a.erpExactDuplicates).toBeGreaterThanOrEqual(2);

    const negPrice = erp.filter((r) => (r[2] as number) < 0);
    const negStock = erp.filter((r) => (r[3] as number) < 0);
    expect(new Set(negPrice.map((r) => r[0])).size).toBe(2);
    expect(new Set(negStock.map((r) => r[0])).size).toBe(2);
    for (const r of [...negPrice, ...negStock]) expect(r[1]).toBe(0);
    for (const r of erp) {
      const price = r[2] as number;
      expect(Math.round(price * 100) / 100, `price ${price}`).toBe(price);
      expect(Number.isInteger(r[0]) && Number.isInteger(r[3])).toBe(true);
      expect(['instock', 'outofstock']).toContain(r[4]);
    }

    // liaison: same products as the ERP, ~11% without id_web, some padded text ids
    const distinct = [...new Map(liaison.map((r) => [rowKey(r), r])).values()];
    expect(new Set(distinct.map((r) => r[0]))).toEqual(new Set(erp.map((r) => r[0])));
    const empty = distinct.filter((r) => r[1] === null).length;
    expect(empty).toBe(a.emptyIdWeb);
    expect(empty / distinct.length).toBeGreaterThan(0.09);
    expect(empty / distinct.length).toBeLessThan(0.13);
    const padded = distinct.filter((r) => typeof r[1] === 'string' && r[1] !== r[1].trim());
    expect(padded.length).toBe(a.paddedIdWeb);
    expect(distinct.some((r) => r[1] === 'bon-cadeau-25-euros')).toBe(true);

    // every id_web matches a web product sku, except ~1%
    const webSkus = new Set(
      k1.web
        .slice(1)
        .filter((r) => r[W('post_type')] === 'product' && r[W('sku')] !== null)
        .map((r) => trimmed(r[W('sku')])),
    );
    const unmatched = distinct.filter((r) => r[1] !== null && !webSkus.has(trimmed(r[1])));
    expect(unmatched.length).toBe(a.unmatchedIdWeb);
    expect(unmatched.length / distinct.length).toBeGreaterThan(0.005);
    expect(unmatched.length / distinct.length).toBeLessThan(0.02);
    for (const r of unmatched) expect(erp.find((e) => e[0] === r[0])?.[1]).toBe(0);
  });

  it('reports ground truth that a plain clean-and-merge reproduces, with ~4% premium wines', () => {
    const got = cleanAndMerge(k1);
    const e = k1.gen.expected;
    expect(got.webClean).toBe(e.webRowsClean);
    expect(got.merged).toBe(e.mergedRows);
    expect(got.revenue).toBeCloseTo(e.revenue, 2);
    expect(got.premium).toBe(e.premium);
    expect(e.premium / e.mergedRows).toBeGreaterThan(0.03);
    expect(e.premium / e.mergedRows).toBeLessThan(0.055);
    expect(e.premium + e.ordinary).toBe(e.mergedRows);
  });

  it('lays the zip out like Excel, with fixed timestamps', async () => {
    for (const f of ['erp', 'web', 'liaison'] as const) {
      const entries = await zipEntries(k1.gen.files[f]);
      expect(entries.map((e) => e.name)).toEqual(EXCEL_ENTRY_ORDER);
      for (const e of entries) expect([e.dosDate, e.dosTime]).toEqual([0x21, 0]);
    }
  });

  it('generates K=20 quickly', async () => {
    const t0 = performance.now();
    const gen = await generateMonth({ outDir: await tmp(), scale: 20, seed: 3 });
    const ms = performance.now() - t0;
    console.log(`generateMonth K=20: ${ms.toFixed(0)} ms, ${gen.webRows} web rows`);
    expect(gen.products).toBe(16_500);
    expect(gen.webRows).toBeGreaterThan(29_000);
  }, 120_000);
});

describe.skipIf(!hasReference)('shape matches the reference exports', () => {
  if (!hasReference) console.warn(`reference exports not found in ${REFERENCE_DIR}: shape test skipped`);

  /** (column, post_type or '-', cell type) triples seen in a sheet. */
  async function shape(file: string, typeColumn: number | null): Promise<Set<string>> {
    const rows = await readSheet(file);
    const header = rows[0] as Cell[];
    const out = new Set<string>();
    for (const r of rows.slice(1)) {
      const kind = typeColumn === null ? '-' : String(r[typeColumn] ?? 'blank');
      r.forEach((v, i) => out.add(`${String(header[i])}|${kind}|${typeOf(v)}`));
    }
    out.add(`header:${header.join(',')}`);
    return out;
  }

  it('has the same columns and, per column and row kind, the same cell types', async () => {
    const gen = await generateMonth({ outDir: await tmp(), seed: 5 });
    const ref = (f: string): string => path.join(REFERENCE_DIR, f);
    expect(await shape(gen.files.erp, null)).toEqual(await shape(ref('erp.xlsx'), null));
    expect(await shape(gen.files.liaison, null)).toEqual(await shape(ref('liaison.xlsx'), null));
    expect(await shape(gen.files.web, W('post_type'))).toEqual(await shape(ref('web.xlsx'), W('post_type')));
  }, 60_000);

  it('orders the core zip entries as the reference web and ERP exports do', async () => {
    const gen = await generateMonth({ outDir: await tmp(), seed: 5 });
    const names = (await zipEntries(gen.files.web)).map((e) => e.name);
    const refNames = (await zipEntries(path.join(REFERENCE_DIR, 'web.xlsx'))).map((e) => e.name);
    expect(names).toEqual(refNames);
  }, 60_000);
});
