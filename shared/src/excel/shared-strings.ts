/** Bytes of the first chunk: a small workbook's strings fit in it. */
const FIRST_CHUNK = 64 * 1024;
/** Chunks double up to this size; a longer string gets a chunk of its own size. */
const MAX_CHUNK = 4 * 1024 * 1024;
/** UTF-8 bytes a UTF-16 code unit can take at most (a surrogate pair: 4 bytes for 2 units). */
const MAX_BYTES_PER_UNIT = 3;

/** String.prototype.isWellFormed (Node 20), not in the ES2022 library types. */
type WellFormedCheck = string & { isWellFormed(): boolean };

/** Options of the store; the chunk sizes are for tests (many chunk boundaries with few strings). */
export interface SharedStringsOptions {
  firstChunkBytes?: number;
  maxChunkBytes?: number;
}

/** A store's content, for another thread (structured clone copies it): SharedStrings.data, SharedStrings.from. */
export interface SharedStringsData {
  chunks: Uint8Array[];
  used: number[];
  first: number[];
  curUsed: number;
  starts: Uint32Array;
  aside: Map<number, string>;
  n: number;
}

/**
 * A workbook's shared strings kept compactly: their UTF-8 bytes, one after another, in a few
 * chunks (a string never spans two), and where each starts; a string is decoded when a cell refers
 * to it and lives only as long as that cell's value. As JavaScript strings the same text took
 * 3.7 bytes per character on a generated month (two-byte strings for text with accents, a header
 * per string); here it takes its UTF-8 size and 4 bytes per string.
 *
 * A string that UTF-8 cannot hold as it is (a lone surrogate, which Excel's `_xD800_` escape can
 * make) is kept aside as a JavaScript string, so `get` returns exactly what was added.
 *
 * @example
 * const ss = new SharedStrings();
 * ss.add('Château');
 * ss.get(0); // 'Château'
 * ss.get(1); // undefined: no such string
 */
export class SharedStrings {
  private readonly chunks: Buffer[] = [];
  /** Bytes used in each chunk but the last (the last's are `curUsed`). */
  private readonly used: number[] = [];
  /** Index of the first string of each chunk. */
  private readonly first: number[] = [];
  /** The chunk strings are added to, and its bytes used. */
  private cur = Buffer.alloc(0);
  private curUsed = 0;
  /** Byte offset, in its chunk, where each string starts. */
  private starts = new Uint32Array(1024);
  /** Strings kept aside (not well-formed UTF-16), by index. */
  private readonly aside = new Map<number, string>();
  private n = 0;
  private readonly maxChunk: number;
  private nextChunk: number;

  constructor(opts: SharedStringsOptions = {}) {
    this.maxChunk = opts.maxChunkBytes ?? MAX_CHUNK;
    this.nextChunk = Math.min(opts.firstChunkBytes ?? FIRST_CHUNK, this.maxChunk);
  }

  /** How many strings the store holds. */
  get length(): number {
    return this.n;
  }

  /** Bytes the store holds in its chunks (allocated, used or not) and offsets: what it costs in memory. */
  get bytes(): number {
    let b = this.starts.byteLength;
    for (const c of this.chunks) b += c.length;
    return b;
  }

  /** Appends a string; its index is the number of strings added before it. */
  add(s: string): void {
    const i = this.n;
    if (i === this.starts.length) {
      const grown = new Uint32Array(i * 2);
      grown.set(this.starts);
      this.starts = grown;
    }
    const wellFormed = (s as WellFormedCheck).isWellFormed();
    if (!wellFormed) this.aside.set(i, s);
    const text = wellFormed ? s : '';
    // Sure to fit without measuring it: most strings. Otherwise measure, and open a chunk if needed.
    const room = this.cur.length - this.curUsed;
    if (this.chunks.length === 0 || room < text.length * MAX_BYTES_PER_UNIT) {
      const need = Buffer.byteLength(text, 'utf8');
      if (this.chunks.length === 0 || room < need) this.open(need, i);
    }
    this.starts[i] = this.curUsed;
    if (text.length) this.curUsed += this.cur.write(text, this.curUsed, 'utf8');
    this.n = i + 1;
  }

  /** The string at `index`, or undefined when there is none (not a whole number, or out of range). */
  get(index: number): string | undefined {
    if (!(index >= 0 && index < this.n) || !Number.isInteger(index)) return undefined;
    if (this.aside.size) {
      const s = this.aside.get(index);
      if (s !== undefined) return s;
    }
    const c = this.chunkOf(index);
    const last = c === this.chunks.length - 1;
    /* eslint-disable @typescript-eslint/no-non-null-assertion -- 0 <= index < n, and c is the chunk holding it: inside every array's bounds, once per cell */
    const start = this.starts[index]!;
    const end =
      index + 1 < (last ? this.n : this.first[c + 1]!) ? this.starts[index + 1]! : last ? this.curUsed : this.used[c]!;
    return start === end ? '' : this.chunks[c]!.toString('utf8', start, end);
    /* eslint-enable @typescript-eslint/no-non-null-assertion */
  }

  /** Gives back the unused tail of the last chunk and of the offsets: call once every string is added. */
  finish(): this {
    if (this.chunks.length && this.curUsed < this.cur.length) {
      this.cur = Buffer.from(this.cur.subarray(0, this.curUsed));
      this.chunks[this.chunks.length - 1] = this.cur;
    }
    if (this.n < this.starts.length) this.starts = this.starts.slice(0, Math.max(this.n, 1));
    return this;
  }

  /** The store's content (call `finish` first), to be posted to another thread and read there with `from`. */
  data(): SharedStringsData {
    return {
      chunks: this.chunks,
      used: this.used,
      first: this.first,
      curUsed: this.curUsed,
      starts: this.starts,
      aside: this.aside,
      n: this.n,
    };
  }

  /** A store holding what `data` gave (as another thread receives it): the same strings at the same indices. */
  static from(d: SharedStringsData): SharedStrings {
    const s = new SharedStrings();
    const buf = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);
    s.chunks.push(...d.chunks.map(buf));
    s.used.push(...d.used);
    s.first.push(...d.first);
    s.cur = (s.chunks[s.chunks.length - 1] ?? Buffer.alloc(0)) as Buffer<ArrayBuffer>;
    s.curUsed = d.curUsed;
    s.starts = d.starts as Uint32Array<ArrayBuffer>;
    for (const [k, v] of d.aside) s.aside.set(k, v);
    s.n = d.n;
    return s;
  }

  /** Opens a chunk that holds at least `need` bytes, starting with string `i`. */
  private open(need: number, i: number): void {
    if (this.chunks.length) this.used.push(this.curUsed);
    this.cur = Buffer.allocUnsafeSlow(Math.max(this.nextChunk, need));
    this.curUsed = 0;
    this.nextChunk = Math.min(this.nextChunk * 2, this.maxChunk);
    this.chunks.push(this.cur);
    this.first.push(i);
  }

  /** The chunk holding string `index` (0 <= index < n): the last chunk whose first string is at or before it. */
  private chunkOf(index: number): number {
    const first = this.first;
    let lo = 0;
    let hi = first.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- lo < mid <= hi
      if (first[mid]! <= index) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}
