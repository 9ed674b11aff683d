// eslint-disable-next-line @typescript-eslint/triple-slash-reference -- yauzl ships no types: ours, beside this file, declare the part we use
/// <reference path="./yauzl.d.ts" />
import { open as openFile, type FileHandle } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { crc32, createInflateRaw } from 'node:zlib';
import type { Entry, ZipFile } from 'yauzl';
import { BottleneckError, createError, defined, errorMessage } from '../errors/index.js';

// CommonJS, required rather than imported, so that Node's ESM loader does not start its CommonJS
// export scanner for it (measured: 40 ms of CPU for saxes and yauzl imported, 7 ms required).
const yauzl = createRequire(import.meta.url)('yauzl') as typeof import('yauzl');

/** What an xlsx's zip may hold at most. */
export interface ZipLimits {
  /** Largest file accepted, bytes. */
  maxBytes: number;
  /** Largest total of the declared uncompressed sizes, bytes. */
  maxUncompressedBytes: number;
  /** Largest uncompressed/compressed ratio of one entry (zip bombs have thousands). */
  maxRatio: number;
  maxEntries: number;
}

/** One part of the zip, as its central directory declares it. */
export interface ZipEntry {
  name: string;
  compressed: number;
  uncompressed: number;
  method: number;
  crc: number;
  /** Offset of its local header. */
  offset: number;
  flags: number;
}

/** What the directory check found: the file's size and its parts. */
export interface ZipSummary {
  bytes: number;
  entries: ZipEntry[];
  /** Where the central directory starts: the listed entries fill the file up to it. */
  directoryOffset: number;
  path: string;
}

const LOCAL_SIG = 0x04034b50;
const DESCRIPTOR_SIG = 0x08074b50;
const EOCD_SIG = 0x06054b50;
const ZIP64_EXTRA = 0x0001;
/** Inflated bytes handed to the parser at a time: large enough that per-chunk costs vanish. */
const CHUNK = 256 * 1024;

const promised = <T>(f: (cb: (err: Error | null, v: T) => void) => void): Promise<T> =>
  new Promise<T>((resolve, reject) => f((err, v) => (err ? reject(err) : resolve(v))));

/**
 * An xlsx's zip, opened with yauzl and checked from its directory before any parser reads a part:
 * size, signature, entry count, declared sizes and compression ratios (zip bombs), zip64 refused,
 * and the listed entries filling the file from byte 0 to the directory (nothing hidden between
 * them). Each part's CRC-32 is computed as it is inflated for the parse, and `verifyRest` checks the
 * parts nobody parsed, so a damaged file always fails, and fails deterministically.
 *
 * @example
 * const zip = await XlsxZip.open('/in/erp.xlsx', 'erp.xlsx', limits);
 * try { for await (const chunk of zip.chunks(zip.entry('xl/workbook.xml')!)) ...; await zip.verifyRest(); }
 * finally { zip.close(); }
 */
export class XlsxZip {
  private readonly byName: Map<string, ZipEntry>;
  private readonly verified = new Set<ZipEntry>();

  private constructor(
    readonly summary: ZipSummary,
    private readonly fh: FileHandle,
    /** Where each entry's data starts, from its local header (read by yauzl). */
    private readonly dataStart: Map<ZipEntry, number>,
    readonly display: string,
  ) {
    this.byName = new Map(summary.entries.map((e) => [e.name, e]));
  }

  /** Opens and checks `path`; `display` is the name errors give the file (erp.xlsx). Throws a BottleneckError. */
  static async open(path: string, display: string, limits: ZipLimits): Promise<XlsxZip> {
    const loc = { location: { file: display } };
    const fh = await openFile(path, 'r').catch((e: unknown) => {
      if ((e as { code?: string }).code === 'ENOENT')
        throw createError(
          'BN_ERR_INPUT_MISSING',
          `${display} is missing: put the month's ${display} beside the other exports`,
          loc,
        );
      throw e;
    });
    let zipfile: ZipFile | undefined;
    let keep = false;
    try {
      const { size } = await fh.stat();
      if (size === 0)
        throw createError(
          'BN_ERR_INPUT_EMPTY',
          `${display} is empty (0 bytes): the export or the copy did not finish; export it again from Excel and drop it again`,
          loc,
        );
      if (size > limits.maxBytes)
        throw createError(
          'BN_ERR_INPUT_TOO_LARGE',
          `${display} is ${size} bytes, more than the ${limits.maxBytes} bytes allowed (BN_MAX_FILE_BYTES)`,
          loc,
        );
      const head = Buffer.alloc(4);
      await fh.read(head, 0, 4, 0);
      if (size < 22 || head.readUInt32LE(0) !== LOCAL_SIG) {
        throw createError(
          'BN_ERR_INPUT_NOT_XLSX',
          `${display} is not an xlsx workbook (it does not start with the zip signature PK): export it again from Excel as .xlsx`,
          loc,
        );
      }
      const eocd = await endOfDirectory(fh, size);
      if (!eocd) throw directoryError(display, new Error('end of central directory record signature not found'));
      if (eocd.count === 0xffff || eocd.directoryOffset === 0xffffffff) throw zip64(display);
      zipfile = await promised<ZipFile>((cb) =>
        yauzl.open(
          path,
          {
            lazyEntries: true,
            autoClose: false,
            validateEntrySizes: false,
            decodeStrings: true,
            strictFileNames: false,
          },
          cb,
        ),
      ).catch((e: unknown) => {
        throw directoryError(display, e);
      });
      if (zipfile.entryCount > limits.maxEntries)
        throw createError(
          'BN_ERR_INPUT_TOO_LARGE',
          `${display} has ${zipfile.entryCount} zip entries, more than the ${limits.maxEntries} allowed`,
          loc,
        );
      const raw = await readDirectory(zipfile, display);
      const entries: ZipEntry[] = [];
      const byEntry = new Map<ZipEntry, Entry>();
      let total = 0;
      for (const r of raw) {
        if (r.extraFields.some((f) => f.id === ZIP64_EXTRA)) throw zip64(display);
        const e: ZipEntry = {
          name: r.fileName,
          compressed: r.compressedSize,
          uncompressed: r.uncompressedSize,
          method: r.compressionMethod,
          crc: r.crc32,
          offset: r.relativeOffsetOfLocalHeader,
          flags: r.generalPurposeBitFlag,
        };
        total += e.uncompressed;
        if (e.uncompressed > 1_000_000 && e.uncompressed / Math.max(e.compressed, 1) > limits.maxRatio) {
          throw createError(
            'BN_ERR_INPUT_TOO_LARGE',
            `${display} looks like a zip bomb: entry ${e.name} expands ${Math.round(e.uncompressed / Math.max(e.compressed, 1))} times (at most ${limits.maxRatio} allowed)`,
            loc,
          );
        }
        entries.push(e);
        byEntry.set(e, r);
      }
      if (total > limits.maxUncompressedBytes)
        throw createError(
          'BN_ERR_INPUT_TOO_LARGE',
          `${display} expands to ${total} bytes, more than the ${limits.maxUncompressedBytes} allowed (BN_MAX_UNCOMPRESSED_BYTES)`,
          loc,
        );
      const summary: ZipSummary = { bytes: size, entries, directoryOffset: eocd.directoryOffset, path };
      const starts = await checkLayout(fh, zipfile, summary, byEntry, display);
      keep = true;
      return new XlsxZip(summary, fh, starts, display);
    } finally {
      zipfile?.close();
      if (!keep) await fh.close();
    }
  }

  /** The entry of that name (exactly as the zip spells it), or undefined. */
  entry(name: string): ZipEntry | undefined {
    return this.byName.get(name);
  }

  /**
   * The entry's uncompressed bytes, chunk by chunk, with its CRC-32 computed on the way: read to
   * the end, the part is verified (or a BN_ERR_INPUT_CORRUPT is thrown). Stopping early (break)
   * stops the read and the inflate; the part then counts as not verified.
   */
  async *chunks(entry: ZipEntry): AsyncGenerator<Buffer> {
    yield* inflateChecked(this.display, entry, await this.compressed(entry));
    this.verified.add(entry);
  }

  /**
   * The entry's compressed bytes, read in one go (the file is bounded by maxBytes): for a part read
   * by two threads (excel/split.ts), both inflate these very bytes with `PartBytes` (`shared`: in a
   * SharedArrayBuffer, which the other thread reads without a copy).
   */
  async compressed(entry: ZipEntry, opts: { shared?: boolean } = {}): Promise<Buffer> {
    checkMethod(this.display, entry);
    // Shared: in a SharedArrayBuffer, which a worker reads without a copy.
    const data = opts.shared
      ? Buffer.from(new SharedArrayBuffer(entry.compressed))
      : Buffer.allocUnsafe(entry.compressed);
    const { bytesRead } = await this.fh.read(data, 0, entry.compressed, this.dataStart.get(entry));
    if (bytesRead !== entry.compressed) throw corrupt(this.display, entry.name, 'runs past the end of the file');
    return data;
  }

  /**
   * Counts the entry as verified: its bytes (from `compressed`) were inflated to their end and
   * their CRC-32 checked with `PartBytes`, on this thread or another.
   */
  markVerified(entry: ZipEntry): void {
    this.verified.add(entry);
  }

  /** The whole text of a small part (UTF-8), verified. */
  async text(entry: ZipEntry): Promise<string> {
    const parts: Buffer[] = [];
    for await (const c of this.chunks(entry)) parts.push(c);
    return Buffer.concat(parts).toString('utf8');
  }

  /** Inflates and checks the CRC of the part unless a full read already did. */
  async verify(entry: ZipEntry): Promise<void> {
    if (this.verified.has(entry)) return;
    for await (const _ of this.chunks(entry));
  }

  /** Checks the CRC of every part not yet read to its end: every byte of the file is then verified. */
  async verifyRest(): Promise<void> {
    for (const e of this.summary.entries) await this.verify(e);
  }

  /** Closes the file. */
  async close(): Promise<void> {
    await this.fh.close();
  }
}

/** Refuses what xlsx parts never are: another compression method, encryption. */
function checkMethod(display: string, entry: ZipEntry): void {
  if (entry.method !== 0 && entry.method !== 8)
    throw corrupt(display, entry.name, `uses compression method ${entry.method}, which xlsx does not`);
  if (entry.flags & 0x01) throw corrupt(display, entry.name, 'is encrypted');
}

/**
 * The uncompressed bytes of an entry's compressed `data`, chunk by chunk, inflated off the thread
 * by zlib, with its CRC-32 computed on the way: read to the end, the part is verified (or a
 * BN_ERR_INPUT_CORRUPT is thrown). Stopping early (break) stops the inflate.
 */
async function* inflateChecked(display: string, entry: ZipEntry, data: Buffer): AsyncGenerator<Buffer> {
  const damaged = (why: string) => corrupt(display, entry.name, why);
  checkMethod(display, entry);
  let crc = 0;
  let bytes = 0;
  const inflater = entry.method === 8 ? createInflateRaw({ chunkSize: CHUNK }) : null;
  inflater?.end(data);
  const source: AsyncIterable<Buffer> | Iterable<Buffer> = inflater ?? (entry.compressed ? [data] : []);
  try {
    for await (const chunk of source) {
      bytes += chunk.length;
      // A part that expands past what it declares is stopped there: the declared sizes were checked.
      if (bytes > entry.uncompressed) throw damaged(`expands past its declared ${entry.uncompressed} bytes`);
      crc = crc32(chunk, crc);
      yield chunk;
    }
  } catch (err) {
    if (err instanceof BottleneckError) throw err;
    throw damaged(`does not inflate (${(err as Error).message})`);
  } finally {
    inflater?.destroy();
  }
  if (bytes !== entry.uncompressed) throw damaged(`has ${bytes} bytes instead of ${entry.uncompressed}`);
  if (crc >>> 0 !== entry.crc >>> 0) throw damaged('fails its CRC-32 check');
}

/**
 * One part's compressed bytes, already read (XlsxZip.compressed), inflated and verified as
 * XlsxZip.chunks does: what a thread that has no file handle parses (excel/split.ts), and the
 * thread that read them.
 */
export class PartBytes {
  constructor(
    readonly display: string,
    private readonly entry: ZipEntry,
    private readonly data: Buffer,
  ) {}

  chunks(entry: ZipEntry): AsyncGenerator<Buffer> {
    if (entry !== this.entry && entry.name !== this.entry.name)
      throw new Error(`PartBytes holds ${this.entry.name}, not ${entry.name}`);
    return inflateChecked(this.display, this.entry, this.data);
  }
}

function corrupt(display: string, name: string, why: string): BottleneckError {
  return createError(
    'BN_ERR_INPUT_CORRUPT',
    `${display} is corrupt: zip entry ${name} ${why}; export it again from Excel and drop it again`,
    { location: { file: display } },
  );
}

function zip64(display: string): BottleneckError {
  return createError(
    'BN_ERR_INPUT_TOO_LARGE',
    `${display} is a zip64 archive, larger than any monthly export should be`,
    { location: { file: display } },
  );
}

/** yauzl's refusals of the directory, in the words a user can act on. */
function directoryError(display: string, e: unknown): BottleneckError {
  const msg = errorMessage(e);
  const loc = { location: { file: display }, cause: e };
  if (/end of central directory record signature not found/.test(msg)) {
    return createError(
      'BN_ERR_INPUT_CORRUPT',
      `${display} is truncated or corrupt (no zip central directory): the file was cut during copy or upload; drop it again`,
      loc,
    );
  }
  return createError('BN_ERR_INPUT_CORRUPT', `${display} is truncated or corrupt (${msg}): drop it again`, loc);
}

/**
 * The end-of-directory record's entry count and directory offset (yauzl reads the same record but
 * does not expose the offset, which the layout check needs), or null when there is none.
 */
async function endOfDirectory(
  fh: FileHandle,
  size: number,
): Promise<{ count: number; directoryOffset: number } | null> {
  const len = Math.min(size, 22 + 0xffff);
  const tail = Buffer.alloc(len);
  await fh.read(tail, 0, len, size - len);
  for (let i = len - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) === EOCD_SIG)
      return { count: tail.readUInt16LE(i + 10), directoryOffset: tail.readUInt32LE(i + 16) };
  }
  return null;
}

function readDirectory(zipfile: ZipFile, display: string): Promise<Entry[]> {
  return new Promise((resolve, reject) => {
    const out: Entry[] = [];
    zipfile.on('entry', (e: Entry) => {
      out.push(e);
      zipfile.readEntry();
    });
    zipfile.on('end', () => resolve(out));
    zipfile.on('error', (e: Error) => reject(directoryError(display, e)));
    zipfile.readEntry();
  });
}

/**
 * A streaming reader reads local headers from byte 0, not the directory: bytes the directory does
 * not list (a hidden sheet, a hidden bomb) would be parsed unchecked by some tool down the line. The
 * listed entries must fill the file from its first byte to the directory, with no gap or overlap.
 */
async function checkLayout(
  fh: FileHandle,
  zipfile: ZipFile,
  zip: ZipSummary,
  raw: Map<ZipEntry, Entry>,
  display: string,
): Promise<Map<ZipEntry, number>> {
  const ends = new Map<ZipEntry, number>();
  const starts = new Map<ZipEntry, number>();
  for (const e of zip.entries) {
    const header = await promised<{ fileDataStart: number }>((cb) =>
      zipfile.readLocalFileHeader(defined(raw.get(e), `zip entry ${e.name}`), { minimal: false }, cb),
    ).catch(() => {
      throw corrupt(display, e.name, 'has no local header');
    });
    starts.set(e, header.fileDataStart);
    let end = header.fileDataStart + e.compressed;
    if (end > zip.bytes) throw corrupt(display, e.name, 'runs past the end of the file');
    if (e.flags & 0x08) {
      // A data descriptor follows the data: 12 bytes, or 16 with its optional signature.
      const sig = Buffer.alloc(4);
      await fh.read(sig, 0, 4, end);
      end += sig.readUInt32LE(0) === DESCRIPTOR_SIG ? 16 : 12;
    }
    ends.set(e, end);
  }
  const sorted = [...zip.entries].sort((a, b) => a.offset - b.offset);
  let at = 0;
  for (const e of sorted) {
    if (e.offset !== at) {
      throw createError(
        'BN_ERR_INPUT_CORRUPT',
        `${display} is corrupt: ${e.offset > at ? `${e.offset - at} bytes before zip entry ${e.name} are not listed in its directory` : `zip entry ${e.name} overlaps the one before`}; export it again from Excel and drop it again`,
        { location: { file: display } },
      );
    }
    at = defined(ends.get(e), `end of zip entry ${e.name}`);
  }
  if (at !== zip.directoryOffset) {
    throw createError(
      'BN_ERR_INPUT_CORRUPT',
      `${display} is corrupt: ${zip.directoryOffset - at} bytes between the last zip entry and the directory are not listed; export it again from Excel and drop it again`,
      { location: { file: display } },
    );
  }
  return starts;
}
