import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BottleneckError } from '../errors/index.js';
import { XlsxZip, type ZipLimits } from './zip.js';

// The xlsx's zip checked from its directory before any parser reads a part, and each part checked as
// it is inflated: every refusal names the file (and the zip entry) and says what to do.

const LIMITS: ZipLimits = { maxBytes: 1_000_000, maxUncompressedBytes: 10_000_000, maxRatio: 100, maxEntries: 10 };

interface Part {
  name: string;
  data: Buffer;
  method?: 0 | 8;
  flags?: number;
  /** A data descriptor after the data (flag 0x08): with its optional signature, or without. */
  descriptor?: 'signed' | 'unsigned';
  /** Bytes before its local header that no directory entry lists. */
  gapBefore?: Buffer;
  /** What the central directory says, where it lies. */
  cd?: { offset?: number; compressed?: number; uncompressed?: number; crc?: number; method?: number };
}

/** A zip built byte by byte, so that a test can make it lie in exactly one place. */
function zipOf(parts: Part[], o: { gapBeforeDirectory?: Buffer; count?: number; directoryOffset?: number } = {}) {
  const out: Buffer[] = [];
  const central: Buffer[] = [];
  let at = 0;
  for (const p of parts) {
    if (p.gapBefore) {
      out.push(p.gapBefore);
      at += p.gapBefore.length;
    }
    const method = p.method ?? 8;
    const body = method === 8 ? deflateRawSync(p.data) : p.data;
    const crc = crc32(p.data) >>> 0;
    const flags = (p.flags ?? 0) | (p.descriptor ? 0x08 : 0);
    const name = Buffer.from(p.name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(p.descriptor ? 0 : crc, 14);
    local.writeUInt32LE(p.descriptor ? 0 : body.length, 18);
    local.writeUInt32LE(p.descriptor ? 0 : p.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const descriptor = Buffer.alloc(p.descriptor === 'signed' ? 16 : p.descriptor ? 12 : 0);
    if (p.descriptor) {
      let d = 0;
      if (p.descriptor === 'signed') d = descriptor.writeUInt32LE(0x08074b50, 0);
      d = descriptor.writeUInt32LE(crc, d);
      d = descriptor.writeUInt32LE(body.length, d);
      descriptor.writeUInt32LE(p.data.length, d);
    }
    const cen = Buffer.alloc(46);
    cen.writeUInt32LE(0x02014b50, 0);
    cen.writeUInt16LE(20, 4);
    cen.writeUInt16LE(20, 6);
    cen.writeUInt16LE(flags, 8);
    cen.writeUInt16LE(p.cd?.method ?? method, 10);
    cen.writeUInt32LE(p.cd?.crc ?? crc, 16);
    cen.writeUInt32LE(p.cd?.compressed ?? body.length, 20);
    cen.writeUInt32LE(p.cd?.uncompressed ?? p.data.length, 24);
    cen.writeUInt16LE(name.length, 28);
    cen.writeUInt32LE(p.cd?.offset ?? at, 42);
    out.push(local, name, body, descriptor);
    central.push(cen, name);
    at += 30 + name.length + body.length + descriptor.length;
  }
  if (o.gapBeforeDirectory) {
    out.push(o.gapBeforeDirectory);
    at += o.gapBeforeDirectory.length;
  }
  const cd = Buffer.concat(central);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(o.count ?? parts.length, 8);
  eocd.writeUInt16LE(o.count ?? parts.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(o.directoryOffset ?? at, 16);
  return Buffer.concat([...out, cd, eocd]);
}

let dir: string;
let n = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bn-zip-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function saved(bytes: Buffer | string): Promise<string> {
  const p = join(dir, `z${String(++n)}.xlsx`);
  await writeFile(p, bytes);
  return p;
}

async function refusal(p: Promise<unknown>): Promise<{ code: string; message: string; location: unknown }> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(BottleneckError);
  const b = e as BottleneckError;
  return { code: b.code, message: b.message, location: b.location };
}

const open = async (bytes: Buffer | string, limits: ZipLimits = LIMITS) =>
  XlsxZip.open(await saved(bytes), 'erp.xlsx', limits);
const AGAIN = 'export it again from Excel and drop it again';
const FILE = { file: 'erp.xlsx' };

describe('XlsxZip.open: an intact zip', () => {
  it('lists its entries as the directory declares them, and reads each part whole, verified', async () => {
    const a = Buffer.from('<a>first part</a>'.repeat(20));
    const b = Buffer.from('stored as is');
    const bytes = zipOf([
      { name: 'xl/a.xml', data: a },
      { name: 'xl/b.xml', data: b, method: 0 },
    ]);
    const zip = await open(bytes);
    try {
      const aSize = deflateRawSync(a).length;
      expect(zip.summary.bytes).toBe(bytes.length);
      expect(zip.summary.entries).toEqual([
        {
          name: 'xl/a.xml',
          compressed: aSize,
          uncompressed: a.length,
          method: 8,
          crc: crc32(a) >>> 0,
          offset: 0,
          flags: 0,
        },
        {
          name: 'xl/b.xml',
          compressed: b.length,
          uncompressed: b.length,
          method: 0,
          crc: crc32(b) >>> 0,
          offset: 30 + 8 + aSize,
          flags: 0,
        },
      ]);
      expect(zip.summary.directoryOffset).toBe(30 + 8 + aSize + 30 + 8 + b.length);
      expect(zip.entry('xl/A.xml')).toBeUndefined();
      expect(await zip.text(zip.entry('xl/b.xml')!)).toBe('stored as is');
      expect(await zip.text(zip.entry('xl/a.xml')!)).toBe(a.toString());
      await zip.verifyRest();
    } finally {
      await zip.close();
    }
  });

  it('accepts parts followed by a data descriptor, with or without its signature', async () => {
    for (const descriptor of ['signed', 'unsigned'] as const) {
      const zip = await open(
        zipOf([
          { name: 'xl/a.xml', data: Buffer.from('<a/>'), descriptor },
          { name: 'xl/b.xml', data: Buffer.from('<b/>'), descriptor },
        ]),
      );
      try {
        expect(zip.summary.entries.map((e) => e.flags & 0x08)).toEqual([8, 8]);
        expect(await zip.text(zip.entry('xl/b.xml')!)).toBe('<b/>');
      } finally {
        await zip.close();
      }
    }
  });

  it('an empty part stored as is reads as nothing', async () => {
    const zip = await open(zipOf([{ name: 'xl/empty.xml', data: Buffer.alloc(0), method: 0 }]));
    try {
      expect(await zip.text(zip.entry('xl/empty.xml')!)).toBe('');
    } finally {
      await zip.close();
    }
  });
});

describe('XlsxZip.open refuses', () => {
  const one = (p: Partial<Part> = {}) => zipOf([{ name: 'xl/a.xml', data: Buffer.from('<a/>'), ...p }]);

  it('a missing file, saying where to put it', async () => {
    expect(await refusal(XlsxZip.open(join(dir, 'none.xlsx'), 'erp.xlsx', LIMITS))).toEqual({
      code: 'BN_ERR_INPUT_MISSING',
      message: "erp.xlsx is missing: put the month's erp.xlsx beside the other exports",
      location: FILE,
    });
  });

  it('an empty file', async () => {
    expect(await refusal(open(''))).toEqual({
      code: 'BN_ERR_INPUT_EMPTY',
      message: `erp.xlsx is empty (0 bytes): the export or the copy did not finish; ${AGAIN}`,
      location: FILE,
    });
  });

  it('a file over the size bound; one exactly at it passes', async () => {
    const bytes = one();
    expect(await refusal(open(bytes, { ...LIMITS, maxBytes: bytes.length - 1 }))).toEqual({
      code: 'BN_ERR_INPUT_TOO_LARGE',
      message: `erp.xlsx is ${bytes.length} bytes, more than the ${bytes.length - 1} bytes allowed (BN_MAX_FILE_BYTES)`,
      location: FILE,
    });
    await (await open(bytes, { ...LIMITS, maxBytes: bytes.length })).close();
  });

  it('a file that does not start with PK, and one too short to be a zip', async () => {
    const not = {
      code: 'BN_ERR_INPUT_NOT_XLSX',
      message:
        'erp.xlsx is not an xlsx workbook (it does not start with the zip signature PK): export it again from Excel as .xlsx',
      location: FILE,
    };
    expect(await refusal(open('product_id;price\n1;2\n'))).toEqual(not);
    const short = Buffer.alloc(21);
    short.writeUInt32LE(0x04034b50, 0);
    expect(await refusal(open(short))).toEqual(not);
  });

  it('a zip cut before its directory', async () => {
    const bytes = one();
    expect(await refusal(open(bytes.subarray(0, bytes.length - 30)))).toEqual({
      code: 'BN_ERR_INPUT_CORRUPT',
      message:
        'erp.xlsx is truncated or corrupt (no zip central directory): the file was cut during copy or upload; drop it again',
      location: FILE,
    });
  });

  it('a zip64 archive (by its entry count or its directory offset)', async () => {
    const zip64 = {
      code: 'BN_ERR_INPUT_TOO_LARGE',
      message: 'erp.xlsx is a zip64 archive, larger than any monthly export should be',
      location: FILE,
    };
    expect(await refusal(open(zipOf([{ name: 'a', data: Buffer.from('a') }], { count: 0xffff })))).toEqual(zip64);
    expect(
      await refusal(open(zipOf([{ name: 'a', data: Buffer.from('a') }], { directoryOffset: 0xffffffff }))),
    ).toEqual(zip64);
  });

  it('more entries than allowed; exactly as many passes', async () => {
    const parts = ['a', 'b', 'c'].map((name) => ({ name, data: Buffer.from(name) }));
    expect(await refusal(open(zipOf(parts), { ...LIMITS, maxEntries: 2 }))).toEqual({
      code: 'BN_ERR_INPUT_TOO_LARGE',
      message: 'erp.xlsx has 3 zip entries, more than the 2 allowed',
      location: FILE,
    });
    await (await open(zipOf(parts), { ...LIMITS, maxEntries: 3 })).close();
  });

  it('a zip bomb by its declared ratio, above a megabyte; at a megabyte or at the ratio it is read on', async () => {
    const data = Buffer.alloc(100_000);
    const compressed = deflateRawSync(data).length;
    const bomb = (uncompressed: number) => one({ data, cd: { uncompressed } });
    expect(await refusal(open(bomb(2_000_000)))).toEqual({
      code: 'BN_ERR_INPUT_TOO_LARGE',
      message: `erp.xlsx looks like a zip bomb: entry xl/a.xml expands ${Math.round(2_000_000 / compressed)} times (at most 100 allowed)`,
      location: FILE,
    });
    // A megabyte is no bomb whatever its ratio; above it, a ratio exactly at the bound passes.
    await (await open(bomb(1_000_000))).close();
    await (await open(bomb(1_000_001), { ...LIMITS, maxRatio: 1_000_001 / compressed })).close();
  });

  it('parts that expand past the total allowed; exactly at it passes', async () => {
    const parts = [
      { name: 'a', data: Buffer.from('aaaa') },
      { name: 'b', data: Buffer.from('bbbbbb') },
    ];
    expect(await refusal(open(zipOf(parts), { ...LIMITS, maxUncompressedBytes: 9 }))).toEqual({
      code: 'BN_ERR_INPUT_TOO_LARGE',
      message: 'erp.xlsx expands to 10 bytes, more than the 9 allowed (BN_MAX_UNCOMPRESSED_BYTES)',
      location: FILE,
    });
    await (await open(zipOf(parts), { ...LIMITS, maxUncompressedBytes: 10 })).close();
  });
});

describe('XlsxZip.open: the listed entries fill the file up to the directory', () => {
  const a = { name: 'xl/a.xml', data: Buffer.from('<a/>') };
  const b = { name: 'xl/b.xml', data: Buffer.from('<b/>') };
  const corrupt = (message: string) => ({
    code: 'BN_ERR_INPUT_CORRUPT',
    message: `erp.xlsx is corrupt: ${message}; ${AGAIN}`,
    location: FILE,
  });

  it('bytes between two entries that the directory does not list', async () => {
    expect(await refusal(open(zipOf([a, { ...b, gapBefore: Buffer.from('hidden!') }])))).toEqual(
      corrupt('7 bytes before zip entry xl/b.xml are not listed in its directory'),
    );
  });

  it('an entry that overlaps the one before', async () => {
    expect(await refusal(open(zipOf([a, { ...b, cd: { offset: 0 } }])))).toEqual(
      corrupt('zip entry xl/b.xml overlaps the one before'),
    );
  });

  it('bytes between the last entry and the directory', async () => {
    expect(await refusal(open(zipOf([a, b], { gapBeforeDirectory: Buffer.from('hidden') })))).toEqual(
      corrupt('6 bytes between the last zip entry and the directory are not listed'),
    );
  });

  it('an entry whose local header is not where the directory says', async () => {
    expect(await refusal(open(zipOf([a, { ...b, cd: { offset: 5 } }])))).toEqual(
      corrupt('zip entry xl/b.xml has no local header'),
    );
  });

  it('an entry that runs past the end of the file', async () => {
    // yauzl refuses its local header first (its data would overflow the file): refused either way, the entry named.
    const r = await refusal(open(zipOf([a, { ...b, cd: { compressed: 10_000 } }])));
    expect([r.code, r.location]).toEqual(['BN_ERR_INPUT_CORRUPT', FILE]);
    expect(r.message).toMatch(
      /^erp\.xlsx is corrupt: zip entry xl\/b\.xml (has no local header|runs past the end of the file); export it again/,
    );
  });
});

describe('XlsxZip: a part checked as it is inflated', () => {
  const read = async (p: Part) => {
    const zip = await open(zipOf([p]));
    try {
      return await zip.text(zip.entry(p.name)!);
    } finally {
      await zip.close();
    }
  };
  const damaged = (why: string) => ({
    code: 'BN_ERR_INPUT_CORRUPT',
    message: `erp.xlsx is corrupt: zip entry xl/a.xml ${why}; ${AGAIN}`,
    location: FILE,
  });
  const data = Buffer.from('<a>some text</a>');

  it('a compression method xlsx does not use', async () => {
    expect(await refusal(read({ name: 'xl/a.xml', data, method: 0, cd: { method: 12 } }))).toEqual(
      damaged('uses compression method 12, which xlsx does not'),
    );
  });

  it('an encrypted part', async () => {
    expect(await refusal(read({ name: 'xl/a.xml', data, flags: 0x01 }))).toEqual(damaged('is encrypted'));
  });

  it('a part that expands past its declared size, or falls short of it', async () => {
    expect(await refusal(read({ name: 'xl/a.xml', data, cd: { uncompressed: 5 } }))).toEqual(
      damaged('expands past its declared 5 bytes'),
    );
    expect(await refusal(read({ name: 'xl/a.xml', data, cd: { uncompressed: 40 } }))).toEqual(
      damaged(`has ${data.length} bytes instead of 40`),
    );
  });

  it('a part whose CRC-32 does not match', async () => {
    expect(await refusal(read({ name: 'xl/a.xml', data, cd: { crc: 1234 } }))).toEqual(
      damaged('fails its CRC-32 check'),
    );
  });

  it('a part that does not inflate', async () => {
    const r = await refusal(
      read({ name: 'xl/a.xml', data: Buffer.from([0xff, 0xff, 0xff, 0xff]), method: 0, cd: { method: 8 } }),
    );
    expect(r.code).toBe('BN_ERR_INPUT_CORRUPT');
    expect(r.message).toMatch(/^erp\.xlsx is corrupt: zip entry xl\/a\.xml does not inflate \(.+\); export it again/);
  });

  it('verifyRest checks the parts not yet read: a damaged one fails it', async () => {
    const zip = await open(zipOf([{ name: 'xl/a.xml', data, cd: { crc: 1 } }]));
    try {
      expect(await refusal(zip.verifyRest())).toEqual(damaged('fails its CRC-32 check'));
    } finally {
      await zip.close();
    }
  });
});
