import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { crc32, createInflateRaw, inflateRaw } from 'node:zlib';
import { promisify } from 'node:util';
import { BottleneckError } from '../errors/index.js';

export interface ZipLimits {
  /** Largest file accepted, bytes. */
  maxBytes: number;
  /** Largest total of the declared uncompressed sizes, bytes. */
  maxUncompressedBytes: number;
  /** Largest uncompressed/compressed ratio of one entry (zip bombs have thousands). */
  maxRatio: number;
  maxEntries: number;
}

export interface ZipSummary {
  bytes: number;
  entries: ZipEntry[];
  /** Where the central directory starts: the listed entries must fill the file up to it. */
  directoryOffset: number;
  path: string;
}

export interface ZipEntry { name: string; compressed: number; uncompressed: number; method: number; crc: number; offset: number; flags: number }

const inflate = promisify(inflateRaw);

const EOCD_SIG = 0x06054b50;
const CEN_SIG = 0x02014b50;

/**
 * Checks an xlsx before any parser touches it, from its central directory alone: the zip
 * signature, that the directory is complete (a truncated download loses it), the entry count, and
 * the declared sizes and compression ratios (zip bombs). Throws a BottleneckError naming the file.
 */
export async function inspectZip(path: string, display: string, limits: ZipLimits, opts: { verify?: boolean } = {}): Promise<ZipSummary> {
  const fh = await open(path, 'r').catch((e: unknown) => {
    if ((e as { code?: string }).code === 'ENOENT') throw new BottleneckError('BN_ERR_INPUT_MISSING', `${display} is missing: put the month's ${display} beside the other exports`, { location: { file: display } });
    throw e;
  });
  try {
    const { size } = await fh.stat();
    const loc = { file: display };
    if (size > limits.maxBytes) throw new BottleneckError('BN_ERR_INPUT_TOO_LARGE', `${display} is ${size} bytes, more than the ${limits.maxBytes} bytes allowed (BN_MAX_FILE_BYTES)`, { location: loc });
    const head = Buffer.alloc(4);
    await fh.read(head, 0, 4, 0);
    if (size < 22 || head.readUInt32LE(0) !== 0x04034b50) {
      throw new BottleneckError('BN_ERR_INPUT_NOT_XLSX', `${display} is not an xlsx workbook (it does not start with the zip signature PK): export it again from Excel as .xlsx`, { location: loc });
    }
    const tailLen = Math.min(size, 22 + 0xffff);
    const tail = Buffer.alloc(tailLen);
    await fh.read(tail, 0, tailLen, size - tailLen);
    let eocd = -1;
    for (let i = tailLen - 22; i >= 0; i--) if (tail.readUInt32LE(i) === EOCD_SIG) { eocd = i; break; }
    if (eocd < 0) throw new BottleneckError('BN_ERR_INPUT_CORRUPT', `${display} is truncated or corrupt (no zip central directory): the file was cut during copy or upload; drop it again`, { location: loc });
    const count = tail.readUInt16LE(eocd + 10);
    const cdSize = tail.readUInt32LE(eocd + 12);
    const cdOffset = tail.readUInt32LE(eocd + 16);
    if (count === 0xffff || cdOffset === 0xffffffff) throw new BottleneckError('BN_ERR_INPUT_TOO_LARGE', `${display} is a zip64 archive, larger than any monthly export should be`, { location: loc });
    if (count > limits.maxEntries) throw new BottleneckError('BN_ERR_INPUT_TOO_LARGE', `${display} has ${count} zip entries, more than the ${limits.maxEntries} allowed`, { location: loc });
    if (cdOffset + cdSize > size) throw new BottleneckError('BN_ERR_INPUT_CORRUPT', `${display} is truncated or corrupt (its central directory points past the end of the file): drop it again`, { location: loc });
    const cd = Buffer.alloc(cdSize);
    await fh.read(cd, 0, cdSize, cdOffset);
    const entries: ZipSummary['entries'] = [];
    let total = 0;
    for (let p = 0, i = 0; i < count; i++) {
      if (p + 46 > cd.length || cd.readUInt32LE(p) !== CEN_SIG) throw new BottleneckError('BN_ERR_INPUT_CORRUPT', `${display} is corrupt (damaged zip central directory)`, { location: loc });
      const compressed = cd.readUInt32LE(p + 20);
      const uncompressed = cd.readUInt32LE(p + 24);
      const nameLen = cd.readUInt16LE(p + 28);
      const extraLen = cd.readUInt16LE(p + 30);
      const commentLen = cd.readUInt16LE(p + 32);
      const flags = cd.readUInt16LE(p + 8);
      const method = cd.readUInt16LE(p + 10);
      const crc = cd.readUInt32LE(p + 16);
      const offset = cd.readUInt32LE(p + 42);
      const name = cd.toString('utf8', p + 46, p + 46 + nameLen);
      total += uncompressed;
      if (uncompressed > 1_000_000 && uncompressed / Math.max(compressed, 1) > limits.maxRatio) {
        throw new BottleneckError('BN_ERR_INPUT_TOO_LARGE', `${display} looks like a zip bomb: entry ${name} expands ${Math.round(uncompressed / Math.max(compressed, 1))} times (at most ${limits.maxRatio} allowed)`, { location: loc });
      }
      entries.push({ name, compressed, uncompressed, method, crc, offset, flags });
      p += 46 + nameLen + extraLen + commentLen;
    }
    if (total > limits.maxUncompressedBytes) throw new BottleneckError('BN_ERR_INPUT_TOO_LARGE', `${display} expands to ${total} bytes, more than the ${limits.maxUncompressedBytes} allowed (BN_MAX_UNCOMPRESSED_BYTES)`, { location: loc });
    if (!entries.some((e) => e.name === 'xl/workbook.xml')) throw new BottleneckError('BN_ERR_INPUT_NOT_XLSX', `${display} is a zip file but not an xlsx workbook (no xl/workbook.xml)`, { location: loc });
    const summary: ZipSummary = { bytes: size, entries, directoryOffset: cdOffset, path };
    if (opts.verify !== false) await verifyEntries(fh, summary, display);
    return summary;
  } finally {
    await fh.close();
  }
}

/**
 * Inflates every entry (bounded by its declared size) and compares its CRC-32: a damaged or
 * truncated part is found here, deterministically, instead of stalling the xlsx parser.
 */
async function verifyEntries(fh: FileHandle, zip: ZipSummary, display: string): Promise<void> {
  const size = zip.bytes;
  const entries = zip.entries;
  const damaged = (name: string, why: string) =>
    new BottleneckError('BN_ERR_INPUT_CORRUPT', `${display} is corrupt: zip entry ${name} ${why}; export it again from Excel and drop it again`, { location: { file: display } });
  const ends = new Map<ZipEntry, number>();
  for (const e of entries) {
    const lh = Buffer.alloc(30);
    await fh.read(lh, 0, 30, e.offset);
    if (lh.readUInt32LE(0) !== 0x04034b50) throw damaged(e.name, 'has no local header');
    const start = e.offset + 30 + lh.readUInt16LE(26) + lh.readUInt16LE(28);
    if (start + e.compressed > size) throw damaged(e.name, 'runs past the end of the file');
    let end = start + e.compressed;
    if (e.flags & 0x08) {
      // A data descriptor follows the data: 12 bytes, or 16 with its optional signature.
      const sig = Buffer.alloc(4);
      await fh.read(sig, 0, 4, end);
      end += sig.readUInt32LE(0) === 0x08074b50 ? 16 : 12;
    }
    ends.set(e, end);
    if (e.method !== 0 && e.method !== 8) throw damaged(e.name, `uses compression method ${e.method}, which xlsx does not`);
    // Streamed, chunk by chunk: memory stays flat however large the part, and a part that
    // expands past its declared size is stopped there.
    let crc = 0;
    let bytes = 0;
    try {
      for await (const chunk of entryChunks(zip.path, start, e)) {
        bytes += chunk.length;
        if (bytes > e.uncompressed) throw damaged(e.name, `expands past its declared ${e.uncompressed} bytes`);
        crc = crc32(chunk, crc);
      }
    } catch (err) {
      if (err instanceof BottleneckError) throw err;
      throw damaged(e.name, `does not inflate (${(err as Error).message})`);
    }
    if (bytes !== e.uncompressed) throw damaged(e.name, `has ${bytes} bytes instead of ${e.uncompressed}`);
    if (crc >>> 0 !== e.crc >>> 0) throw damaged(e.name, 'fails its CRC-32 check');
  }
  // A streaming parser reads local headers from byte 0, not the directory: bytes the directory
  // does not list (a hidden sheet, a hidden bomb) would be parsed unchecked. The listed entries
  // must fill the file from its first byte to the directory, with no gap.
  const sorted = [...entries].sort((a, b) => a.offset - b.offset);
  let at = 0;
  for (const e of sorted) {
    if (e.offset !== at) {
      throw new BottleneckError('BN_ERR_INPUT_CORRUPT', `${display} is corrupt: ${e.offset > at ? `${e.offset - at} bytes before zip entry ${e.name} are not listed in its directory` : `zip entry ${e.name} overlaps the one before`}; export it again from Excel and drop it again`, { location: { file: display } });
    }
    at = ends.get(e)!;
  }
  if (at !== zip.directoryOffset) {
    throw new BottleneckError('BN_ERR_INPUT_CORRUPT', `${display} is corrupt: ${zip.directoryOffset - at} bytes between the last zip entry and the directory are not listed; export it again from Excel and drop it again`, { location: { file: display } });
  }
}

/** Where an entry's data starts (after its local header). */
async function dataStart(fh: FileHandle, entry: ZipEntry): Promise<number> {
  const lh = Buffer.alloc(30);
  await fh.read(lh, 0, 30, entry.offset);
  return entry.offset + 30 + lh.readUInt16LE(26) + lh.readUInt16LE(28);
}

/** An entry's uncompressed bytes, chunk by chunk; stopping early stops the read and the inflate. */
async function* entryChunks(path: string, start: number, entry: ZipEntry): AsyncGenerator<Buffer> {
  if (entry.compressed === 0) return;
  // A stream of its own (by path): destroying a FileHandle's stream would close the handle.
  const raw = createReadStream(path, { start, end: start + entry.compressed - 1, highWaterMark: 256 * 1024 });
  if (entry.method === 0) {
    try {
      for await (const chunk of raw) yield chunk as Buffer;
    } finally {
      raw.destroy();
    }
    return;
  }
  const inflater = createInflateRaw();
  raw.on('error', (e) => inflater.destroy(e));
  raw.pipe(inflater);
  try {
    for await (const chunk of inflater) yield chunk as Buffer;
  } finally {
    raw.unpipe(inflater);
    raw.destroy();
    inflater.destroy();
  }
}

/** The bytes of one entry of a zip already inspected with inspectZip (its CRC was checked there). */
export async function readEntry(path: string, entry: ZipEntry): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const data = Buffer.alloc(entry.compressed);
    await fh.read(data, 0, entry.compressed, await dataStart(fh, entry));
    return entry.method === 0 ? data : await inflate(data, { maxOutputLength: Math.max(entry.uncompressed, 1) });
  } finally {
    await fh.close();
  }
}

/**
 * The text of one entry, read only until `enough(textSoFar)` says so: a header row or the first
 * shared strings without inflating a whole sheet.
 */
export async function readEntryTextUntil(path: string, entry: ZipEntry, enough: (text: string) => boolean): Promise<string> {
  const fh = await open(path, 'r');
  try {
    let text = '';
    const decoder = new TextDecoder('utf-8');
    for await (const chunk of entryChunks(path, await dataStart(fh, entry), entry)) {
      text += decoder.decode(chunk, { stream: true });
      if (enough(text)) return text;
    }
    return text + decoder.decode();
  } finally {
    await fh.close();
  }
}
