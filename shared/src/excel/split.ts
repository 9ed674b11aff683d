import type { Worker } from 'node:worker_threads';
import type { ColumnSpec } from '../sources.js';
import type { Converted } from './cells.js';
import type { SharedStringsData } from './shared-strings.js';
import type { ZipEntry } from './zip.js';

/**
 * A large sheet read on two threads (issue 18): the thread reading the workbook parses the sheet's
 * XML up to a cut at a `<row` start tag, a worker parses the rest, from the same compressed bytes,
 * and hands its rows back as a few compact buffers per batch (no object per row or per cell to
 * clone); the reading thread appends them after its own, in order. See read.ts (readSheetChecked)
 * for the reading thread, split-worker.ts for the worker.
 *
 * The cut is where the worker's read and the single-thread read cannot differ: every byte before it
 * is parsed by the reading thread, which accepts the cut only if the parse there is between two rows
 * of the sheetData (depth 2) and no comment, CDATA or processing instruction began before it; the
 * worker parses the part's head (up to its first row) then the bytes from the cut, and gives up
 * unless it is then inside the sheetData at depth 2 and the first row after the cut has its number.
 * Whatever goes wrong on the worker (a bad cell, a limit, a damaged part, the worker itself), the
 * reading thread parses on from the cut, skipping the rows it already appended, and meets the error
 * the single-thread read meets, with the same message.
 */

/** Sheet parts smaller than this (uncompressed) are read on one thread: a worker's start costs more than it saves. */
export const SPLIT_MIN_BYTES = 8 * 1024 * 1024;
/**
 * Sheet parts larger than this are read on one thread too: the worker's rows wait for the reading
 * thread's own (bounded by MAX_IN_FLIGHT, so the worker mostly waits), while its copy of the shared
 * strings grows with the month (221 MB at a million rows).
 */
export const SPLIT_MAX_BYTES = 96 * 1024 * 1024;
/**
 * Share of the part the reading thread parses itself: it also appends every row, its own and the
 * worker's. Its CPU time reading web.xlsx at K = 20 (load 20): 720-760 ms at 0.35, 750-820 ms at
 * 0.4, 810-860 ms at 0.45, against 1,160-1,180 ms on one thread; below 0.4 the worker, which waits
 * for the shared strings, would end last.
 */
export const SPLIT_SHARE = 0.4;
/** Bytes of batches the worker may have sent and not seen appended: its memory stays bounded. */
const MAX_IN_FLIGHT = 32 * 1024 * 1024;
/** The worker's young generation (V8's semi-spaces), MiB. */
const WORKER_YOUNG_MB = 4;
/** Rows per batch. */
export const PACKED_ROWS = 4096;

/** What the worker is given at its start. */
export interface SplitJob {
  display: string;
  sheet: string;
  entry: ZipEntry;
  /** The part's compressed bytes, shared with the reading thread (not copied). */
  data: Uint8Array;
  /** The cut is the first row start tag at or after this byte (and after the first row). */
  from: number;
  columns: ColumnSpec[];
  maxRows: number;
  maxColumns: number;
  maxCellChars: number;
  maxMillis: number;
  maxInFlight: number;
}

/** What the reading thread tells the worker once it has read the header row. */
export interface SplitStart {
  type: 'start';
  shared: SharedStringsData;
  dateStyles: boolean[];
  epoch: number;
  /** The Excel column of each spec column. */
  index: number[];
}

/**
 * Converted rows, packed: per row its Excel number; per cell (row by row) a null flag; the numbers
 * in order in `num`, the texts in order as UTF-8 in `text`, each ending at byte `ends[k]`. Every
 * array has a buffer of its own, handed over to the reading thread, not copied.
 */
export interface PackedBatch {
  rows: Int32Array;
  nulls: Uint8Array;
  num: Float64Array;
  text: Uint8Array;
  ends: Uint32Array;
  /** Row elements the worker read for this batch, blank rows included, and how many were blank. */
  elements: number;
  blank: number;
  /** What the batch weighs, for the worker's in-flight bound. */
  bytes: number;
}

export type SplitMessage =
  | { type: 'cut'; at: number | null }
  | { type: 'batch'; batch: PackedBatch }
  | { type: 'end'; ok: true }
  | { type: 'end'; ok: false; why: string };

/** 0 a number (whole or not), 1 text (text, exact decimals, timestamps), as DuckDB's appender takes them. */
const kindsOf = (columns: readonly ColumnSpec[]) =>
  Uint8Array.from(columns, (c) => (c.type === 'int' || c.type === 'double' ? 0 : 1));

/** Packs converted rows into batches (the worker's side): straight into typed arrays and UTF-8 bytes. */
export class BatchPacker {
  private readonly kinds: Uint8Array;
  private rows = new Int32Array(PACKED_ROWS);
  private nulls: Uint8Array;
  private num: Float64Array;
  private ends: Uint32Array;
  private text = Buffer.allocUnsafeSlow(1 << 20);
  private n = 0;
  private cell = 0;
  private nums = 0;
  private texts = 0;
  private bytes = 0;
  elements = 0;
  blank = 0;

  constructor(columns: readonly ColumnSpec[]) {
    this.kinds = kindsOf(columns);
    this.nulls = new Uint8Array(PACKED_ROWS * columns.length);
    this.num = new Float64Array(PACKED_ROWS * columns.length);
    this.ends = new Uint32Array(PACKED_ROWS * columns.length);
  }

  get size(): number {
    return this.n;
  }

  /** Adds a row (at most PACKED_ROWS per batch). */
  add(values: readonly Converted[], row: number): void {
    const kinds = this.kinds;
    for (let i = 0; i < kinds.length; i++) {
      const v = values[i];
      if (v === null || v === undefined) {
        this.nulls[this.cell++] = 1;
        continue;
      }
      this.nulls[this.cell++] = 0;
      if (kinds[i] === 0) this.num[this.nums++] = v as number;
      else {
        const s = v as string;
        if (this.text.length - this.bytes < s.length * 3) this.grow(Buffer.byteLength(s, 'utf8'));
        this.bytes += this.text.write(s, this.bytes, 'utf8');
        this.ends[this.texts++] = this.bytes;
      }
    }
    this.rows[this.n++] = row;
  }

  private grow(need: number): void {
    const bigger = Buffer.allocUnsafeSlow(Math.max(this.text.length * 2, this.bytes + need));
    this.text.copy(bigger, 0, 0, this.bytes);
    this.text = bigger;
  }

  /** The batch so far (copies of the used parts of the arrays), and a fresh one started. */
  take(): PackedBatch {
    const b: PackedBatch = {
      rows: this.rows.slice(0, this.n),
      nulls: this.nulls.slice(0, this.cell),
      num: this.num.slice(0, this.nums),
      text: Uint8Array.prototype.slice.call(this.text, 0, this.bytes),
      ends: this.ends.slice(0, this.texts),
      elements: this.elements,
      blank: this.blank,
      bytes: 0,
    };
    b.bytes = b.rows.byteLength + b.nulls.byteLength + b.num.byteLength + b.text.byteLength + b.ends.byteLength;
    this.n = this.cell = this.nums = this.texts = this.bytes = this.elements = this.blank = 0;
    return b;
  }
}

/** The buffers of a batch, to be transferred with it. */
export const transferables = (b: PackedBatch): ArrayBuffer[] =>
  [b.rows, b.nulls, b.num, b.text, b.ends].map((a) => a.buffer as ArrayBuffer);

/** Unpacks a batch row by row (the reading thread's side): `values` is reused between rows. */
export function unpack(
  batch: PackedBatch,
  columns: readonly ColumnSpec[],
  each: (values: readonly Converted[], row: number) => void,
): void {
  const kinds = kindsOf(columns);
  const values = new Array<Converted>(kinds.length).fill(null);
  const { rows, nulls, num, ends } = batch;
  const text = Buffer.from(batch.text.buffer, batch.text.byteOffset, batch.text.byteLength);
  let cell = 0;
  let n = 0;
  let t = 0;
  let at = 0;
  /* eslint-disable @typescript-eslint/no-non-null-assertion -- cursors within the batch's arrays, as packed */
  for (let k = 0; k < rows.length; k++) {
    for (let i = 0; i < kinds.length; i++) {
      if (nulls[cell++] === 1) values[i] = null;
      else if (kinds[i] === 0) values[i] = num[n++]!;
      else {
        const end = ends[t++]!;
        values[i] = text.toString('utf8', at, end);
        at = end;
      }
    }
    each(values, rows[k]!);
  }
  /* eslint-enable @typescript-eslint/no-non-null-assertion */
}

/**
 * The reading thread's end of a split: the worker, its cut, its batches as they come, its end.
 * Never throws for the worker's sake: a worker that fails, or cannot start, is a `failed` end.
 */
export class SheetSplit {
  private cutAt: Promise<number | null>;
  private resolveCut!: (at: number | null) => void;
  private readonly queue: (PackedBatch | { end: boolean })[] = [];
  private wake: (() => void) | null = null;
  private over = false;

  private constructor(private readonly worker: Worker | null) {
    this.cutAt = new Promise((resolve) => (this.resolveCut = resolve));
    if (!worker) {
      this.finish(false);
      return;
    }
    worker.on('message', (m: SplitMessage) => {
      if (m.type === 'cut') this.resolveCut(m.at);
      else if (m.type === 'batch') this.push(m.batch);
      else this.finish(m.ok);
    });
    worker.on('error', () => this.finish(false));
    worker.on('exit', () => this.finish(false));
  }

  /** Starts the worker on `job` (its script from `workerUrl`: the compiled split-worker.js beside this module). */
  static async start(job: SplitJob, workerUrl = new URL('./split-worker.js', import.meta.url)): Promise<SheetSplit> {
    try {
      const { Worker } = await import('node:worker_threads');
      return new SheetSplit(
        new Worker(workerUrl, {
          workerData: job,
          // A small young generation: the worker's garbage is short-lived, and a large one cost
          // about 40 MiB more peak RSS at K = 20 for no time saved.
          resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_MB },
        }),
      );
    } catch {
      return new SheetSplit(null);
    }
  }

  private push(item: PackedBatch | { end: boolean }): void {
    if (this.over) return;
    if ('end' in item) this.over = true;
    this.queue.push(item);
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private finish(ok: boolean): void {
    this.resolveCut(null);
    this.push({ end: ok });
  }

  /** Where the worker cuts the part, or null: no cut (the reading thread parses it all). */
  at(): Promise<number | null> {
    return this.cutAt;
  }

  /** Tells the worker what the header row said, and the workbook's shared strings and date styles. */
  begin(start: Omit<SplitStart, 'type'>): void {
    this.worker?.postMessage({ type: 'start', ...start } satisfies SplitStart);
  }

  /** The next batch, in order; or true once the worker read the rest of the part (and checked its CRC), false when it failed. */
  async next(): Promise<PackedBatch | boolean> {
    for (;;) {
      const item = this.queue.shift();
      if (item) return 'end' in item ? item.end : item;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  /** A batch was appended: the worker may send more. */
  ack(batch: PackedBatch): void {
    this.worker?.postMessage({ type: 'ack', bytes: batch.bytes });
  }

  /** Stops the worker (done, failed, or not needed). */
  async close(): Promise<void> {
    this.finish(false);
    await this.worker?.terminate();
  }
}

export { MAX_IN_FLIGHT };
