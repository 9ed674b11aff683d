/**
 * Re-pack an .xlsx (zip) produced by exceljs's streaming writer so that it is
 * byte-for-byte reproducible and laid out like the exports Excel writes:
 *
 * - archiver stamps every entry with the wall-clock time of the run; here every
 *   entry gets the DOS epoch 1980-01-01 00:00, like the reference exports;
 * - entries are put in Excel's order ([Content_Types].xml first, the worksheet
 *   before xl/sharedStrings.xml, docProps last), so a streaming reader meets the
 *   worksheet before the shared strings exactly as with the real files;
 * - data descriptors are folded into the local headers, names lose any leading '/'.
 *
 * The compressed payloads are copied untouched (zlib output is deterministic for
 * a given input and Node version), only the headers are rewritten.
 */

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;

/** DOS date of 1980-01-01 (year 0, month 1, day 1); DOS time 00:00:00 is 0. */
const DOS_DATE_1980 = (0 << 9) | (1 << 5) | 1;
const DOS_TIME_0 = 0;
const VERSION = 20; // 2.0: deflate

/** Excel's own entry order for a one-sheet workbook; anything else keeps its order after these. */
export const EXCEL_ENTRY_ORDER: readonly string[] = [
  '[Content_Types].xml',
  '_rels/.rels',
  'xl/workbook.xml',
  'xl/_rels/workbook.xml.rels',
  'xl/worksheets/sheet1.xml',
  'xl/theme/theme1.xml',
  'xl/styles.xml',
  'xl/sharedStrings.xml',
  'docProps/core.xml',
  'docProps/app.xml',
];

interface Entry {
  name: string;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  data: Buffer;
}

function readEntries(zip: Buffer): Entry[] {
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (zip.readUInt32LE(i) === SIG_EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('not a zip archive: end of central directory not found');
  const count = zip.readUInt16LE(eocd + 10);
  let p = zip.readUInt32LE(eocd + 16);
  if (count === 0xffff || p === 0xffffffff) throw new Error('zip64 archives are not supported');

  const entries: Entry[] = [];
  for (let n = 0; n < count; n++) {
    if (zip.readUInt32LE(p) !== SIG_CENTRAL) throw new Error(`bad central directory entry #${n}`);
    const method = zip.readUInt16LE(p + 10);
    const crc = zip.readUInt32LE(p + 16);
    const compressedSize = zip.readUInt32LE(p + 20);
    const size = zip.readUInt32LE(p + 24);
    const nameLen = zip.readUInt16LE(p + 28);
    const extraLen = zip.readUInt16LE(p + 30);
    const commentLen = zip.readUInt16LE(p + 32);
    const localOffset = zip.readUInt32LE(p + 42);
    const name = zip.toString('utf8', p + 46, p + 46 + nameLen).replace(/^\/+/, '');
    if (compressedSize === 0xffffffff || size === 0xffffffff || localOffset === 0xffffffff) {
      throw new Error('zip64 entries are not supported');
    }
    if (zip.readUInt32LE(localOffset) !== SIG_LOCAL) throw new Error(`bad local header for ${name}`);
    const dataStart = localOffset + 30 + zip.readUInt16LE(localOffset + 26) + zip.readUInt16LE(localOffset + 28);
    const data = zip.subarray(dataStart, dataStart + compressedSize);
    entries.push({ name, method, crc, compressedSize, size, data });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

function rank(name: string): number {
  const i = EXCEL_ENTRY_ORDER.indexOf(name);
  return i < 0 ? EXCEL_ENTRY_ORDER.length : i;
}

/** Rewrite `zip` deterministically (see the module comment). */
export function normalizeZip(zip: Buffer): Buffer {
  const entries = readEntries(zip)
    .map((e, i) => ({ e, i }))
    .sort((a, b) => rank(a.e.name) - rank(b.e.name) || a.i - b.i)
    .map(({ e }) => e);

  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const local = Buffer.alloc(30);
    local.writeUInt32LE(SIG_LOCAL, 0);
    local.writeUInt16LE(VERSION, 4);
    local.writeUInt16LE(0, 6); // flags: no data descriptor, ASCII names
    local.writeUInt16LE(e.method, 8);
    local.writeUInt16LE(DOS_TIME_0, 10);
    local.writeUInt16LE(DOS_DATE_1980, 12);
    local.writeUInt32LE(e.crc, 14);
    local.writeUInt32LE(e.compressedSize, 18);
    local.writeUInt32LE(e.size, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    parts.push(local, name, e.data);

    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(SIG_CENTRAL, 0);
    cd.writeUInt16LE(VERSION, 4); // made by: MS-DOS, spec 2.0
    cd.writeUInt16LE(VERSION, 6);
    cd.writeUInt16LE(0, 8);
    cd.writeUInt16LE(e.method, 10);
    cd.writeUInt16LE(DOS_TIME_0, 12);
    cd.writeUInt16LE(DOS_DATE_1980, 14);
    cd.writeUInt32LE(e.crc, 16);
    cd.writeUInt32LE(e.compressedSize, 20);
    cd.writeUInt32LE(e.size, 24);
    cd.writeUInt16LE(name.length, 28);
    // extra length, comment length, disk start, internal and external attributes: all 0
    cd.writeUInt32LE(offset, 42);
    central.push(cd, name);

    offset += local.length + name.length + e.data.length;
  }
  const cdSize = central.reduce((s, b) => s + b.length, 0);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(SIG_EOCD, 0);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cdSize, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, ...central, eocd]);
}
