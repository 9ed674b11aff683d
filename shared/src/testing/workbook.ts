import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32, deflateRawSync } from 'node:zlib';

/** One sheet of a test workbook: its name and its rows, header first; `null` leaves a cell empty. */
export interface SheetSpec {
  name: string;
  rows: unknown[][];
}

/**
 * Writes a small xlsx with exceljs so that a test can craft exactly the input it needs (a bad
 * cell, a missing column, an empty sheet...). Cell values are given to exceljs as they are: a
 * number, a string, a Date, `{ formula, result }`, `{ richText }`, `{ error: '#DIV/0!' }`.
 *
 * @example
 * await writeWorkbook(join(dir, 'erp.xlsx'), [{ name: 'Sheet1', rows: [['product_id', 'price'], [1, 'vingt euros']] }]);
 */
export async function writeWorkbook(path: string, sheets: readonly SheetSpec[]): Promise<void> {
  const { default: ExcelJS } = await import('exceljs');
  const wb = new ExcelJS.Workbook();
  for (const s of sheets) {
    const ws = wb.addWorksheet(s.name);
    // Cell by cell rather than addRow, so that a null leaves a hole at its column.
    s.rows.forEach((cells, r) => {
      cells.forEach((v, c) => {
        if (v !== null && v !== undefined) ws.getCell(r + 1, c + 1).value = v as never;
      });
    });
  }
  await wb.xlsx.writeFile(path);
}

/** One entry of a hand-made zip. */
export interface ZipEntrySpec {
  name: string;
  data: Buffer;
  /** Deflate (the default) or store. */
  method?: 'deflate' | 'store';
  /** Overrides of what the central directory declares, to make lying or damaged archives. */
  declaredSize?: number;
  crc?: number;
}

/**
 * Writes a zip built by hand (no library), so that a test can craft hostile archives: zip bombs,
 * wrong CRCs, lying sizes, zips that are not workbooks.
 */
export async function writeZip(path: string, entries: readonly ZipEntrySpec[]): Promise<void> {
  await writeFile(path, buildZip(entries));
}

/** The bytes of a zip holding `entries`, local headers first, then the central directory. */
export function buildZip(entries: readonly ZipEntrySpec[]): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const method = e.method === 'store' ? 0 : 8;
    const body = method === 8 ? deflateRawSync(e.data, { level: 9 }) : e.data;
    const crc = (e.crc ?? crc32(e.data)) >>> 0;
    const size = e.declaredSize ?? e.data.length;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    const cen = Buffer.alloc(46);
    cen.writeUInt32LE(0x02014b50, 0);
    cen.writeUInt16LE(20, 4);
    cen.writeUInt16LE(20, 6);
    cen.writeUInt16LE(method, 10);
    cen.writeUInt32LE(crc, 16);
    cen.writeUInt32LE(body.length, 20);
    cen.writeUInt32LE(size, 24);
    cen.writeUInt16LE(name.length, 28);
    cen.writeUInt32LE(offset, 42);
    parts.push(local, name, body);
    central.push(cen, name);
    offset += 30 + name.length + body.length;
  }
  const cd = Buffer.concat(central);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, cd, eocd]);
}

/**
 * The reference month (`/work/shared/data/reference`, i.e. `../shared/data/reference` from the
 * repository root) as an absolute path, or null where it is absent: tests that need it then skip
 * with a message.
 */
export function referenceDir(): string | null {
  // This file is shared/src/testing/workbook.ts (or shared/dist/testing/workbook.js): three folders up is the repository root.
  const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  const dir = resolve(repoRoot, '..', 'shared', 'data', 'reference');
  return existsSync(resolve(dir, 'erp.xlsx')) ? dir : null;
}
