import { parentPort, workerData } from 'node:worker_threads';
import { errorMessage } from '../errors/index.js';
import { CpuBudget } from '../workers/cpu-budget.js';
import { convert, type CellPlace, type Converted } from './cells.js';
import { SharedStrings } from './shared-strings.js';
import { RowCells, SheetHandler, type CellContext, type RowConsumer } from './sheet.js';
import { BatchPacker, PACKED_ROWS, transferables, type SplitJob, type SplitMessage, type SplitStart } from './split.js';
import { parsePart, type PartSource } from './xml.js';
import { PartBytes, type ZipEntry } from './zip.js';

/**
 * The worker of a split sheet (split.ts): finds the cut (the first `<row` start tag at or after
 * `from`, after the sheet's first row), tells the reading thread, then parses the part's head and the
 * bytes from the cut as one document, once the reading thread has sent the header's columns and the
 * shared strings, and posts the converted rows in packed batches; then its end (the part read to its
 * end, CRC checked), or a failure, after which the reading thread parses the rest itself.
 */
const job = workerData as SplitJob;
const port = parentPort;
const post = (m: SplitMessage, transfer: ArrayBuffer[] = []) => port?.postMessage(m, transfer);

/** Why the split is given up, when nothing is wrong with the workbook. */
class NoSplit extends Error {}

let inFlight = 0;
let roomWake: (() => void) | null = null;
let startWith: ((s: SplitStart) => void) | null = null;
const started = new Promise<SplitStart>((resolve) => (startWith = resolve));
port?.on('message', (m: SplitStart | { type: 'ack'; bytes: number }) => {
  if (m.type === 'start') startWith?.(m);
  else {
    inFlight -= m.bytes;
    const w = roomWake;
    roomWake = null;
    w?.();
  }
});

/** `<row` then a blank, `>` or `/`: a row's start tag, where no comment or CDATA is open. */
function rowStart(b: Buffer, from: number): number {
  for (let i = b.indexOf('<row', from); i >= 0; i = b.indexOf('<row', i + 1)) {
    const c = b[i + 4];
    if (c === undefined) return -1;
    if (c === 32 || c === 9 || c === 10 || c === 13 || c === 62 || c === 47) return i;
  }
  return -1;
}

const handlerRef: { h?: SheetHandler } = {};

/** The part with its middle left out: the head up to the first row, then the bytes from the cut. */
class HeadAndTail implements PartSource {
  readonly display: string;
  constructor(private readonly inner: PartBytes) {
    this.display = inner.display;
  }

  async *chunks(entry: ZipEntry): AsyncGenerator<Buffer> {
    // 0: the head (up to the first row start tag), 1: looking for the cut, 2: from the cut on.
    let state = 0;
    let carry = Buffer.alloc(0);
    let offset = 0; // of carry's first byte in the part
    let min = 0;
    for await (const chunk of this.inner.chunks(entry)) {
      if (state === 2) {
        while (inFlight > job.maxInFlight) await new Promise<void>((resolve) => (roomWake = resolve));
        yield chunk;
        continue;
      }
      const joined = carry.length ? Buffer.concat([carry, chunk]) : chunk;
      let from = 0;
      if (state === 0) {
        const i = rowStart(joined, 0);
        if (i < 0) {
          const keep = Math.max(joined.length - 4, 0);
          if (keep) yield joined.subarray(0, keep);
          carry = Buffer.from(joined.subarray(keep));
          offset += keep;
          continue;
        }
        if (i) yield joined.subarray(0, i);
        state = 1;
        min = Math.max(job.from, offset + i + 1);
        from = i + 1;
      }
      const j = rowStart(joined, Math.max(from, min - offset));
      if (j < 0) {
        const keep = Math.max(joined.length - 4, 0);
        carry = Buffer.from(joined.subarray(keep));
        offset += keep;
        continue;
      }
      post({ type: 'cut', at: offset + j });
      const start = await started;
      const h = handlerRef.h;
      if (!h || !h.inSheetData || h.depth !== 2 || h.done)
        throw new NoSplit('the head does not end inside the sheetData');
      configure(start);
      state = 2;
      yield joined.subarray(j);
    }
    if (state !== 2) throw new NoSplit('no row start tag after the cut');
  }
}

let ctx: CellContext | undefined;
let index: number[] = [];

function configure(s: SplitStart): void {
  ctx = {
    shared: SharedStrings.from(s.shared),
    dateStyles: s.dateStyles,
    epoch: s.epoch,
    file: job.display,
    sheet: job.sheet,
  };
  index = s.index;
  consumer.wanted = new Uint8Array(job.maxColumns + 1);
  for (const i of index) consumer.wanted[i] = 1;
  place.epoch = s.epoch;
}

const packer = new BatchPacker(job.columns);
const values = new Array<Converted>(job.columns.length).fill(null);
const place: CellPlace = { file: job.display, sheet: job.sheet, row: 0, maxCellChars: job.maxCellChars, epoch: 0 };
let first = true;
let rowCount = 0;

function flush(): void {
  const batch = packer.take();
  inFlight += batch.bytes;
  post({ type: 'batch', batch }, transferables(batch));
}

const consumer: RowConsumer = {
  wanted: new Uint8Array(job.maxColumns + 1),
  row(row, cells) {
    const h = handlerRef.h;
    const c = ctx;
    if (!c || !h) throw new NoSplit('a row before the cut');
    // The reading thread numbered the rows before the cut: a row after it without its number cannot be numbered here.
    if (first && !h.numbered) throw new NoSplit('the first row after the cut has no number');
    first = false;
    packer.elements++;
    place.row = row;
    let empty = true;
    for (let i = 0; i < values.length; i++) {
      // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- within the bounds of the spec's columns
      const v = convert(cells.value(index[i]!, c, row), job.columns[i]!, place);
      if (v !== null) empty = false;
      values[i] = v;
    }
    if (empty) {
      packer.blank++;
      return undefined;
    }
    // Bounded here too (the reading thread counts its own rows before these, and says where the limit falls).
    if (++rowCount > job.maxRows) throw new NoSplit('more rows than allowed');
    packer.add(values, row);
    if (packer.size >= PACKED_ROWS) flush();
    return undefined;
  },
};

async function run(): Promise<void> {
  const bytes = Buffer.from(job.data.buffer, job.data.byteOffset, job.data.byteLength);
  const handler = new SheetHandler(new RowCells(job.maxColumns), consumer, job.maxColumns, job.display, job.sheet);
  handlerRef.h = handler;
  await parsePart(
    new HeadAndTail(new PartBytes(job.display, job.entry, bytes)),
    job.entry,
    handler,
    {
      budget: new CpuBudget(job.maxMillis),
      maxCellChars: job.maxCellChars,
      file: job.display,
      sheet: job.sheet,
      timeLimitMs: job.maxMillis,
    },
    { drain: true },
  );
  if (packer.size || packer.elements) flush();
  post({ type: 'end', ok: true });
}

run().catch((e: unknown) => {
  post({ type: 'cut', at: null });
  post({ type: 'end', ok: false, why: errorMessage(e) });
});
