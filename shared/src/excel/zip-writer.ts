import { open, type FileHandle } from 'node:fs/promises';
import { crc32, createDeflateRaw } from 'node:zlib';

/** What one entry of a written zip holds: its name, CRC-32 and sizes, as the central directory records them. */
export interface ZipEntryWritten {
  name: string;
  crc32: number;
  /** Bytes before compression. */
  size: number;
  /** Bytes in the file. */
  compressedSize: number;
  offset: number;
}

/** Writes the text of one entry, in pieces: `put` may be called any number of times. */
export type EntryBody = (put: (text: string) => Promise<void>) => Promise<void>;

const FLUSH_AT = 1 << 16;
const LOCAL = 0x04034b50;
const DESCRIPTOR = 0x08074b50;
const CENTRAL = 0x02014b50;
const END = 0x06054b50;

/**
 * A streaming, deterministic zip writer for the workbooks the pipeline writes: entries are
 * deflated as their text arrives (memory stays bounded by the pieces in flight), every entry
 * is dated `when` (the same input gives the same bytes), and what is written is verified as it
 * is written: each entry's CRC-32 and sizes are computed from the bytes handed to the file, and
 * every write must land in full at the offset the writer expects; nothing is read back.
 *
 * @example
 * const zip = await ZipWriter.create('/tmp/a.xlsx', new Date('2026-11-15T08:00:00Z'));
 * await zip.entry('[Content_Types].xml', async (put) => put('<?xml ...'));
 * await zip.close();
 */
export class ZipWriter {
  private offset = 0;
  private readonly entries: ZipEntryWritten[] = [];
  private readonly dosTime: number;
  private readonly dosDate: number;

  private constructor(
    private readonly fh: FileHandle,
    readonly path: string,
    when: Date,
    private readonly level: number,
  ) {
    this.dosTime = (when.getUTCHours() << 11) | (when.getUTCMinutes() << 5) | Math.floor(when.getUTCSeconds() / 2);
    this.dosDate =
      ((Math.max(1980, when.getUTCFullYear()) - 1980) << 9) | ((when.getUTCMonth() + 1) << 5) | when.getUTCDate();
  }

  /** Creates (or truncates) the file at `path`. `level` is zlib's deflate level (default 6). */
  static async create(path: string, when: Date, level = 6): Promise<ZipWriter> {
    if (Number.isNaN(when.getTime())) throw new TypeError(`ZipWriter: the entries' date is not a date`);
    return new ZipWriter(await open(path, 'w'), path, when, level);
  }

  private async write(buf: Buffer): Promise<void> {
    const { bytesWritten } = await this.fh.write(buf, 0, buf.length, this.offset);
    if (bytesWritten !== buf.length)
      throw new Error(`${this.path}: wrote ${bytesWritten} of ${buf.length} bytes at offset ${this.offset}`);
    this.offset += buf.length;
  }

  /** Adds one deflated entry whose content `body` puts as text (UTF-8). */
  async entry(name: string, body: EntryBody): Promise<ZipEntryWritten> {
    const nameBytes = Buffer.from(name, 'utf8');
    const offset = this.offset;
    const head = Buffer.alloc(30);
    head.writeUInt32LE(LOCAL, 0);
    head.writeUInt16LE(20, 4); // version needed: 2.0 (deflate)
    head.writeUInt16LE(0x0808, 6); // sizes in the data descriptor; UTF-8 names
    head.writeUInt16LE(8, 8); // deflate
    head.writeUInt16LE(this.dosTime, 10);
    head.writeUInt16LE(this.dosDate, 12);
    head.writeUInt16LE(nameBytes.length, 26);
    await this.write(Buffer.concat([head, nameBytes]));

    const deflate = createDeflateRaw({ level: this.level });
    const out: Buffer[] = [];
    let outBytes = 0;
    let compressedSize = 0;
    deflate.on('data', (c: Buffer) => {
      out.push(c);
      outBytes += c.length;
    });
    const failed = new Promise<never>((_, reject) => deflate.once('error', reject));
    failed.catch(() => undefined);
    const drainOut = async () => {
      if (out.length === 0) return;
      const buf = Buffer.concat(out, outBytes);
      out.length = 0;
      outBytes = 0;
      compressedSize += buf.length;
      await this.write(buf);
    };
    let crc = 0;
    let size = 0;
    let pending: string[] = [];
    let pendingLen = 0;
    const push = async () => {
      const buf = Buffer.from(pending.join(''), 'utf8');
      pending = [];
      pendingLen = 0;
      crc = crc32(buf, crc);
      size += buf.length;
      const more = deflate.write(buf);
      if (!more) await Promise.race([new Promise((r) => deflate.once('drain', r)), failed]);
      await drainOut();
    };
    await body(async (text) => {
      pending.push(text);
      pendingLen += text.length;
      if (pendingLen >= FLUSH_AT) await push();
    });
    if (pendingLen > 0) await push();
    // 'end' of the readable side: every compressed byte has been handed to the 'data' listener.
    const ended = new Promise<void>((r) => deflate.once('end', r));
    deflate.end();
    await Promise.race([ended, failed]);
    await drainOut();

    const desc = Buffer.alloc(16);
    desc.writeUInt32LE(DESCRIPTOR, 0);
    desc.writeUInt32LE(crc >>> 0, 4);
    desc.writeUInt32LE(compressedSize, 8);
    desc.writeUInt32LE(size, 12);
    await this.write(desc);
    if (size > 0xffffffff || this.offset > 0xffffffff)
      throw new Error(`${this.path}: ${name} is too large for a zip32 file`);
    const e = { name, crc32: crc >>> 0, size, compressedSize, offset };
    this.entries.push(e);
    return e;
  }

  /** Writes the central directory and closes the file; returns the file's size and its entries. */
  async close(): Promise<{ bytes: number; entries: readonly ZipEntryWritten[] }> {
    try {
      const cdStart = this.offset;
      const parts: Buffer[] = [];
      for (const e of this.entries) {
        const nameBytes = Buffer.from(e.name, 'utf8');
        const h = Buffer.alloc(46);
        h.writeUInt32LE(CENTRAL, 0);
        h.writeUInt16LE(20, 4); // made by: MS-DOS, 2.0
        h.writeUInt16LE(20, 6);
        h.writeUInt16LE(0x0808, 8);
        h.writeUInt16LE(8, 10);
        h.writeUInt16LE(this.dosTime, 12);
        h.writeUInt16LE(this.dosDate, 14);
        h.writeUInt32LE(e.crc32, 16);
        h.writeUInt32LE(e.compressedSize, 20);
        h.writeUInt32LE(e.size, 24);
        h.writeUInt16LE(nameBytes.length, 28);
        h.writeUInt32LE(e.offset, 42);
        parts.push(h, nameBytes);
      }
      const cd = Buffer.concat(parts);
      await this.write(cd);
      const end = Buffer.alloc(22);
      end.writeUInt32LE(END, 0);
      end.writeUInt16LE(this.entries.length, 8);
      end.writeUInt16LE(this.entries.length, 10);
      end.writeUInt32LE(cd.length, 12);
      end.writeUInt32LE(cdStart, 16);
      await this.write(end);
      return { bytes: this.offset, entries: this.entries };
    } finally {
      await this.fh.close();
    }
  }

  /** Closes the file without finishing it (after a failure: the caller removes it). */
  async abort(): Promise<void> {
    await this.fh.close().catch(() => undefined);
  }
}
