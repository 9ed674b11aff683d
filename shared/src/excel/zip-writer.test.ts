import { existsSync } from 'node:fs';
import { mkdtemp, open, readdir, readFile, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, inflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEFAULT_READ_LIMITS } from './read.js';
import { XlsxZip } from './zip.js';
import { ZipWriter, type EntryBody } from './zip-writer.js';

// The report's zip writer, checked two ways: what the reader's strict zip (zip.ts: layout, sizes,
// CRC of every part) reads back, and the bytes the zip format fixes (headers, dates, directory).

let dir: string;
let n = 0;
const path = () => join(dir, `${++n}.zip`);
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bn-zip-writer-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const WHEN = new Date('2026-11-15T08:07:09Z');
const text =
  (...pieces: string[]): EntryBody =>
  async (put) => {
    for (const p of pieces) await put(p);
  };

async function written(entries: [string, EntryBody][], when = WHEN, level?: number) {
  const p = path();
  const zip = await ZipWriter.create(p, when, level);
  const got = [];
  for (const [name, body] of entries) got.push(await zip.entry(name, body));
  const closed = await zip.close();
  return { p, got, closed, bytes: await readFile(p) };
}

/** Every part's text, as the reader's zip reads (and verifies) it. */
async function readBack(p: string): Promise<Record<string, string>> {
  const zip = await XlsxZip.open(p, 'out.xlsx', DEFAULT_READ_LIMITS);
  try {
    const out: Record<string, string> = {};
    for (const e of zip.summary.entries) out[e.name] = await zip.text(e);
    await zip.verifyRest();
    return out;
  } finally {
    await zip.close();
  }
}

describe('ZipWriter: what the reader reads back', () => {
  it('writes each entry whole, in pieces or not, with UTF-8 names and text, and reports what it wrote', async () => {
    const long = 'row,'.repeat(40_000); // past the writer's flush threshold, in pieces
    const { p, got, closed, bytes } = await written([
      ['[Content_Types].xml', text('<Types/>')],
      ['xl/\u00e9t\u00e9.xml', text('Ch\u00e2', 'teau ', '\u20ac')],
      ['xl/long.csv', text(...long.match(/.{1,1000}/gs)!)],
      ['xl/empty.xml', text()],
    ]);
    expect(await readBack(p)).toEqual({
      '[Content_Types].xml': '<Types/>',
      'xl/\u00e9t\u00e9.xml': 'Ch\u00e2teau \u20ac',
      'xl/long.csv': long,
      'xl/empty.xml': '',
    });
    expect(closed.bytes).toBe(bytes.length);
    expect((await stat(p)).size).toBe(bytes.length);
    expect(closed.entries).toEqual(got);
    expect(got.map((e) => [e.name, e.size, e.crc32])).toEqual([
      ['[Content_Types].xml', 8, crc32(Buffer.from('<Types/>')) >>> 0],
      [
        'xl/\u00e9t\u00e9.xml',
        Buffer.byteLength('Ch\u00e2teau \u20ac'),
        crc32(Buffer.from('Ch\u00e2teau \u20ac')) >>> 0,
      ],
      ['xl/long.csv', long.length, crc32(Buffer.from(long)) >>> 0],
      ['xl/empty.xml', 0, 0],
    ]);
    // Each entry's compressed bytes sit after its local header and name, and inflate to its text.
    for (const e of got) {
      const nameLen = Buffer.byteLength(e.name);
      const start = e.offset + 30 + nameLen;
      expect(bytes.subarray(e.offset + 30, start).toString('utf8')).toBe(e.name);
      expect(inflateRawSync(bytes.subarray(start, start + e.compressedSize)).length).toBe(e.size);
    }
    expect(got[0]!.offset).toBe(0);
    expect(got[1]!.offset).toBe(30 + 19 + got[0]!.compressedSize + 16);
    // The long text compresses well (deflate), the entries follow one another.
    expect(got[2]!.compressedSize).toBeLessThan(long.length / 100);
  });

  it('gives the same bytes for the same input, and another date other bytes', async () => {
    const entries: [string, EntryBody][] = [
      ['a.xml', text('<a>', '1', '</a>')],
      ['b.xml', text('<b/>')],
    ];
    const one = await written(entries);
    const two = await written(entries);
    expect(two.bytes.equals(one.bytes)).toBe(true);
    const later = await written(entries, new Date('2026-11-15T08:07:11Z'));
    expect(later.bytes.equals(one.bytes)).toBe(false);
    expect(later.bytes.length).toBe(one.bytes.length);
  });

  it('deflates at level 6 unless told otherwise', async () => {
    const body = text(Array.from({ length: 3000 }, (_, i) => `<c r="A${i}"><v>${(i * 7919) % 1000}</v></c>`).join(''));
    const dflt = await written([['s.xml', body]]);
    const six = await written([['s.xml', body]], WHEN, 6);
    const one = await written([['s.xml', body]], WHEN, 1);
    const none = await written([['s.xml', body]], WHEN, 0);
    expect(dflt.bytes.equals(six.bytes)).toBe(true);
    expect(one.got[0]!.compressedSize).toBeGreaterThan(six.got[0]!.compressedSize);
    expect(none.got[0]!.compressedSize).toBeGreaterThan(none.got[0]!.size);
    expect(await readBack(none.p)).toEqual(await readBack(six.p));
  });

  it('refuses a date that is not a date', async () => {
    await expect(ZipWriter.create(path(), new Date('not a date'))).rejects.toThrow(
      "ZipWriter: the entries' date is not a date",
    );
  });

  it('abort closes the file unfinished, and a second abort does not throw', async () => {
    const p = path();
    const zip = await ZipWriter.create(p, WHEN);
    await zip.entry('a.xml', text('<a/>'));
    await zip.abort();
    await expect(zip.abort()).resolves.toBeUndefined();
    await expect(XlsxZip.open(p, 'out.xlsx', DEFAULT_READ_LIMITS)).rejects.toThrow(/out\.xlsx/);
  });

  it('refuses a write that does not land in full, naming the file, the bytes and the offset', async () => {
    const probe = await open(path(), 'w');
    const proto = Object.getPrototypeOf(probe) as FileHandle;
    await probe.close();
    const p = path();
    const zip = await ZipWriter.create(p, WHEN);
    await zip.entry('a.xml', text('<a/>'));
    const real = proto.write;
    const short = vi.spyOn(proto, 'write').mockImplementation(async function (this: FileHandle, ...args: never[]) {
      const r = (await Reflect.apply(real, this, args)) as { bytesWritten: number; buffer: Buffer };
      return { ...r, bytesWritten: r.bytesWritten - 1 };
    } as never);
    try {
      await expect(zip.entry('b.xml', text('<b/>'))).rejects.toThrow(
        `${p}: wrote 34 of 35 bytes at offset ${30 + 5 + 6 + 16}`,
      );
    } finally {
      short.mockRestore();
      await zip.abort();
    }
  });

  it.runIf(existsSync('/proc/self/fd'))('leaves no file open once finished or aborted', async () => {
    const openFiles = async () => (await readdir('/proc/self/fd')).length;
    const before = await openFiles();
    const done = await ZipWriter.create(path(), WHEN);
    await done.entry('a.xml', text('<a/>'));
    expect(await openFiles()).toBe(before + 1);
    await done.close();
    expect(await openFiles()).toBe(before);
    const aborted = await ZipWriter.create(path(), WHEN);
    await aborted.abort();
    expect(await openFiles()).toBe(before);
  });

  it('replaces a longer file at the same path', async () => {
    const p = path();
    await writeFile(p, Buffer.alloc(100_000, 1));
    const zip = await ZipWriter.create(p, WHEN);
    await zip.entry('a.xml', text('<a/>'));
    const { bytes } = await zip.close();
    expect((await stat(p)).size).toBe(bytes);
    expect(await readBack(p)).toEqual({ 'a.xml': '<a/>' });
  });
});

describe('ZipWriter: the bytes the zip format fixes', () => {
  it('local headers, data descriptors, central directory and end record', async () => {
    const { got, bytes } = await written([
      ['a.xml', text('<a>x</a>')],
      ['\u00e9.xml', text('<b/>')],
    ]);
    // MS-DOS time and date of 2026-11-15 08:07:09 UTC: seconds halved.
    const time = (8 << 11) | (7 << 5) | 4;
    const date = ((2026 - 1980) << 9) | (11 << 5) | 15;
    for (const e of got) {
      const h = e.offset;
      expect(bytes.readUInt32LE(h)).toBe(0x04034b50);
      expect(bytes.readUInt16LE(h + 4)).toBe(20);
      expect(bytes.readUInt16LE(h + 6)).toBe(0x0808);
      expect(bytes.readUInt16LE(h + 8)).toBe(8);
      expect(bytes.readUInt16LE(h + 10)).toBe(time);
      expect(bytes.readUInt16LE(h + 12)).toBe(date);
      expect(bytes.subarray(h + 14, h + 26)).toEqual(Buffer.alloc(12));
      expect(bytes.readUInt16LE(h + 26)).toBe(Buffer.byteLength(e.name));
      expect(bytes.readUInt16LE(h + 28)).toBe(0);
      const d = h + 30 + Buffer.byteLength(e.name) + e.compressedSize;
      expect([0, 4, 8, 12].map((o) => bytes.readUInt32LE(d + o))).toEqual([
        0x08074b50,
        e.crc32,
        e.compressedSize,
        e.size,
      ]);
    }
    const end = bytes.length - 22;
    expect(bytes.readUInt32LE(end)).toBe(0x06054b50);
    expect([4, 6, 8, 10, 20].map((o) => bytes.readUInt16LE(end + o))).toEqual([0, 0, 2, 2, 0]);
    const cdSize = bytes.readUInt32LE(end + 12);
    const cdStart = bytes.readUInt32LE(end + 16);
    expect(cdStart + cdSize).toBe(end);
    const last = got[1]!;
    expect(cdStart).toBe(last.offset + 30 + Buffer.byteLength(last.name) + last.compressedSize + 16);
    let c = cdStart;
    for (const e of got) {
      const name = Buffer.byteLength(e.name);
      expect(bytes.readUInt32LE(c)).toBe(0x02014b50);
      expect([4, 6, 8, 10, 12, 14].map((o) => bytes.readUInt16LE(c + o))).toEqual([20, 20, 0x0808, 8, time, date]);
      expect([16, 20, 24].map((o) => bytes.readUInt32LE(c + o))).toEqual([e.crc32, e.compressedSize, e.size]);
      expect([28, 30, 32, 34, 36].map((o) => bytes.readUInt16LE(c + o))).toEqual([name, 0, 0, 0, 0]);
      expect(bytes.readUInt32LE(c + 38)).toBe(0);
      expect(bytes.readUInt32LE(c + 42)).toBe(e.offset);
      expect(bytes.subarray(c + 46, c + 46 + name).toString('utf8')).toBe(e.name);
      c += 46 + name;
    }
    expect(c).toBe(end);
  });

  it('dates before 1980 (the format has no earlier) as 1980, keeping month, day and time', async () => {
    const { bytes } = await written([['a.xml', text('<a/>')]], new Date('1975-03-04T23:59:58Z'));
    expect(bytes.readUInt16LE(10)).toBe((23 << 11) | (59 << 5) | 29);
    expect(bytes.readUInt16LE(12)).toBe((0 << 9) | (3 << 5) | 4);
  });

  it('an empty zip is its end record alone', async () => {
    const { bytes, closed } = await written([]);
    expect(closed).toEqual({ bytes: 22, entries: [] });
    expect(bytes.readUInt32LE(0)).toBe(0x06054b50);
    expect(bytes.subarray(4)).toEqual(Buffer.alloc(18));
  });
});
