import { createError, defined } from '../errors/index.js';
import type { SourceSpec } from '../sources.js';
import { convert, EPOCH_1900, EPOCH_1904, type CellPlace, type CellValue, type Converted } from './cells.js';
import { RowCells, SheetHandler, T_SHARED, type CellContext, type RowConsumer } from './sheet.js';
import { SharedStrings } from './shared-strings.js';
import { readDateStyles, readSharedStrings, readWorkbookInfo, type SheetRef, type WorkbookInfo } from './workbook.js';
import { cpuMs, mark, timed } from '../profile.js';
import { CpuBudget } from '../workers/cpu-budget.js';
import {
  MAX_IN_FLIGHT,
  SheetSplit,
  SPLIT_MAX_BYTES,
  SPLIT_MIN_BYTES,
  SPLIT_SHARE,
  unpack,
  type PackedBatch,
} from './split.js';
import { parsePart, timeout, type PartCut, type PartSource, type XmlBounds } from './xml.js';
import { PartBytes, XlsxZip, type ZipLimits, type ZipSummary } from './zip.js';

export type { CellValue, Converted } from './cells.js';
export type { ZipLimits, ZipSummary } from './zip.js';

/** What reading one workbook may cost at most. */
export interface ReadLimits extends ZipLimits {
  /** Data rows of the sheet (BN_MAX_ROWS). */
  maxRows: number;
  /** Highest column number a cell may have. */
  maxColumns: number;
  /** Longest text of one cell, characters (Excel's own limit is 32,767). */
  maxCellChars: number;
  /**
   * Most CPU time (ms) of the thread reading it that one workbook's read may take, every pass together
   * (BN_MAX_READ_MS); wall time where the thread's CPU time cannot be read.
   */
  maxMillis: number;
}

/** The defaults: generous for a monthly export, tight for a hostile file. The environment overrides them (shared/src/config.ts). */
export const DEFAULT_READ_LIMITS: ReadLimits = {
  maxBytes: 200 * 1024 * 1024,
  maxUncompressedBytes: 2 * 1024 * 1024 * 1024,
  maxRatio: 200,
  maxEntries: 10_000,
  maxRows: 2_000_000,
  maxColumns: 512,
  maxCellChars: 32_767,
  maxMillis: 120_000,
};

/** The expected sheet was absent and the workbook's only worksheet was read instead: worth a WARN. */
export interface SheetFallback {
  expected: string;
  read: string;
}

/** What reading a sheet reports back beside its rows. */
export interface SheetSummary {
  /** Data rows read (blank rows not counted). */
  rowCount: number;
  headerRow: number;
  blankRows: number;
  /** Header cells not in the spec: ignored, reported in metadata. */
  extraColumns: string[];
  /** The sheet read: the spec's, or the only worksheet of a workbook that lacks it. */
  sheetRead: string;
  sheetFallback?: SheetFallback;
}

export interface SheetData extends SheetSummary {
  /** One object per non-blank data row: the spec's columns (typed for JSON) plus `_row`, the Excel row number. */
  rows: Record<string, Converted>[];
}

/**
 * Receives the converted rows of a sheet, in order: `values` in the spec's column order (reused
 * between calls: copy what you keep), `row` the Excel row number.
 */
export interface RowSink {
  row(values: readonly Converted[], row: number): void;
}

/** The vital check's result: the zip's directory, and the sheet whose header holds the required columns. */
export interface HeaderCheck {
  zip: ZipSummary;
  headerRow: number;
  sheetRead: string;
  sheetFallback?: SheetFallback;
}

const quoteList = (sheets: readonly SheetRef[]) =>
  sheets
    .map((s) => `"${s.name}"${s.state === 'visible' ? '' : ` (${s.state === 'hidden' ? 'hidden' : 'very hidden'})`}`)
    .join(', ') || 'none';

/**
 * The sheet to read: the one named `expected`; or, when the workbook has no sheet of that name and
 * exactly one worksheet, that one (with a fallback note). Otherwise BN_ERR_INPUT_SHEET_MISSING
 * listing the sheets found.
 */
function pickSheet(
  info: WorkbookInfo,
  expected: string,
  file: string,
): { ref: SheetRef & { part: string }; fallback?: SheetFallback } {
  const named = info.sheets.find((s) => s.name === expected);
  const usable = (s: SheetRef): s is SheetRef & { part: string } => s.worksheet && s.part !== null;
  if (named) {
    if (usable(named)) return { ref: named };
    throw createError(
      'BN_ERR_INPUT_CORRUPT',
      `${file}: sheet "${expected}" ${named.worksheet ? 'has no worksheet part in the zip' : 'is not a worksheet (a chart or dialog sheet)'}; export it again from Excel and drop it again`,
      { location: { file, sheet: expected } },
    );
  }
  const worksheets = info.sheets.filter(usable);
  const only = worksheets[0];
  if (only && worksheets.length === 1) return { ref: only, fallback: { expected, read: only.name } };
  throw createError(
    'BN_ERR_INPUT_SHEET_MISSING',
    `${file}: sheet "${expected}" is missing (sheets found: ${quoteList(info.sheets)}); name the sheet to read "${expected}"`,
    { location: { file, sheet: expected } },
  );
}

/** An open workbook with its sheet chosen: what every read starts from. */
interface Opened {
  zip: XlsxZip;
  info: WorkbookInfo;
  ref: SheetRef & { part: string };
  fallback?: SheetFallback;
  bounds: XmlBounds;
  ctx: CellContext;
}

async function openSheet(path: string, file: string, expected: string, limits: ReadLimits): Promise<Opened> {
  const budget = new CpuBudget(limits.maxMillis);
  const zip = await timed(`read ${file}: zip directory`, () => XlsxZip.open(path, file, limits));
  try {
    const bounds: XmlBounds = { budget, maxCellChars: limits.maxCellChars, file, timeLimitMs: limits.maxMillis };
    const info = await timed(`read ${file}: workbook and relationships`, () => readWorkbookInfo(zip, bounds));
    const { ref, fallback } = pickSheet(info, expected, file);
    const ctx: CellContext = {
      shared: new SharedStrings(),
      dateStyles: [],
      epoch: info.date1904 ? EPOCH_1904 : EPOCH_1900,
      file,
      sheet: ref.name,
    };
    return { zip, info, ref, ...(fallback ? { fallback } : {}), bounds: { ...bounds, sheet: ref.name }, ctx };
  } catch (e) {
    await zip.close();
    throw e;
  }
}

/** The header row's names (trimmed text), by column number. */
function headerNames(cells: RowCells, ctx: CellContext, row: number): string[] {
  const names: string[] = [''];
  for (let c = 1; c <= cells.last; c++) {
    const v = cells.value(c, ctx, row);
    names.push(
      v === null
        ? ''
        : typeof v === 'string'
          ? v.trim()
          : typeof v === 'object' && !(v instanceof Date)
            ? v.error
            : String(v),
    );
  }
  return names;
}

/** Where each spec column is in the header, or BN_ERR_INPUT_COLUMN_MISSING naming what was found. */
function locateColumns(
  names: readonly string[],
  spec: SourceSpec,
  file: string,
  sheet: string,
  row: number,
): { index: number[]; extra: string[] } {
  const pos = new Map<string, number>();
  // names[0] is '' (columns count from 1): skipped with the other empty names.
  names.forEach((h, i) => {
    if (h && !pos.has(h.toLowerCase())) pos.set(h.toLowerCase(), i);
  });
  const missing = spec.columns.filter((c) => !pos.has(c.name.toLowerCase())).map((c) => c.name);
  if (missing.length) {
    throw createError(
      'BN_ERR_INPUT_COLUMN_MISSING',
      `${file}, sheet "${sheet}", header row ${row}: required column${missing.length > 1 ? 's' : ''} ${missing.map((m) => `"${m}"`).join(', ')} missing (found: ${names
        .filter(Boolean)
        .map((h) => `"${h}"`)
        .join(', ')})`,
      { location: { file, sheet, column: missing.join(', '), row } },
    );
  }
  const known = new Set(spec.columns.map((c) => c.name.toLowerCase()));
  return {
    index: spec.columns.map((c) => defined(pos.get(c.name.toLowerCase()), `column ${c.name}`)),
    extra: names.filter((h) => h && !known.has(h.toLowerCase())),
  };
}

/** Turns the rows after the header into the spec's typed values, for a sink. */
class SpecRows implements RowConsumer {
  wanted: Uint8Array | null = null;
  index: number[] | null = null;
  extra: string[] = [];
  headerRow = 0;
  rowCount = 0;
  blank = 0;
  /** Rows (blank ones included) to pass over: appended already from a split's worker (split.ts). */
  skip = 0;
  /** Called once the header row is located. */
  onHeader?: () => void;
  private readonly values: Converted[];
  private readonly place: CellPlace;

  constructor(
    private readonly spec: SourceSpec,
    private readonly ctx: CellContext,
    private readonly limits: ReadLimits,
    private readonly sink: RowSink,
  ) {
    this.values = new Array<Converted>(spec.columns.length).fill(null);
    this.place = { file: ctx.file, sheet: ctx.sheet, row: 0, maxCellChars: limits.maxCellChars, epoch: ctx.epoch };
  }

  row(row: number, cells: RowCells): undefined {
    const { ctx, spec } = this;
    if (!this.index) {
      const { index, extra } = locateColumns(headerNames(cells, ctx, row), spec, ctx.file, ctx.sheet, row);
      this.index = index;
      this.extra = extra;
      this.headerRow = row;
      this.wanted = new Uint8Array(this.limits.maxColumns + 1);
      for (const i of index) this.wanted[i] = 1;
      this.onHeader?.();
      return;
    }
    if (this.skip > 0) {
      this.skip--;
      return;
    }
    const index = this.index;
    const cols = spec.columns;
    this.place.row = row;
    let empty = true;
    for (let i = 0; i < cols.length; i++) {
      // Inside the bounds of both arrays, once per cell: no check in the hot loop.
      // eslint-disable-next-line @typescript-eslint/no-non-null-assertion
      const v = convert(cells.value(index[i]!, ctx, row), cols[i]!, this.place);
      if (v !== null) empty = false;
      this.values[i] = v;
    }
    if (empty) {
      this.blank++;
      return;
    }
    this.take(this.values, row);
  }

  /** A non-blank data row, counted against maxRows and handed to the sink. */
  take(values: readonly Converted[], row: number): void {
    if (this.rowCount >= this.limits.maxRows) {
      const { file, sheet } = this.ctx;
      throw createError(
        'BN_ERR_INPUT_TOO_LARGE',
        `${file}, sheet "${sheet}": more than ${this.limits.maxRows} rows (BN_MAX_ROWS)`,
        {
          location: { file, sheet, row },
        },
      );
    }
    this.rowCount++;
    this.sink.row(values, row);
  }

  /** The rows of a split's worker, after this thread's own: as if read here. */
  replay(batch: PackedBatch): void {
    unpack(batch, this.spec.columns, (values, row) => this.take(values, row));
    this.blank += batch.blank;
  }
}

/**
 * Reads one sheet of an xlsx, streaming, and hands each data row, converted to the spec's column
 * types, to `sink`. The sheet is found by name through the workbook's relationships (any part
 * order, any namespace prefix); a workbook without it but with exactly one worksheet has that one
 * read, and the summary says so (`sheetFallback`). Bounded by `limits` (size, zip bomb, rows,
 * columns, cell size, time) in every pass; every part's CRC is checked. Every error is a
 * BottleneckError naming the file, sheet, column and row; a hostile workbook is reported, never
 * fatal to the process.
 *
 * @example
 * const rows: unknown[][] = [];
 * const summary = await readSheetInto('/in/erp.xlsx', SOURCES.erp, DEFAULT_READ_LIMITS, { row: (v) => rows.push([...v]) });
 */
export async function readSheetInto(
  path: string,
  spec: SourceSpec,
  limits: ReadLimits,
  sink: RowSink,
): Promise<SheetSummary> {
  return (await readSheetChecked(path, spec, limits, sink)).sheet;
}

/** A split read's settings (split.ts): the defaults, or a test's. */
export interface SplitOptions {
  /** Sheet parts smaller than this, or larger than `maxBytes` (uncompressed bytes), are read on one thread. */
  minBytes?: number;
  maxBytes?: number;
  /** The byte of the part at or after which the cut falls (default: SPLIT_SHARE of the part). */
  from?: number;
  /** The worker's script (default: split-worker.js beside read.js). */
  workerUrl?: URL;
}

/** What became of a split read: where the part was cut (null: it was not), rows appended from the worker, whether the worker read the rest. */
export interface SplitOutcome {
  cut: number | null;
  workerRows: number;
  workerDone: boolean;
}

/**
 * readSheetInto, also returning the zip's directory: a whole read checks everything the vital
 * check does (zip, sheet, header, every part's CRC), so an in-process run can take both from one
 * pass (stage/read-once.ts). With `split`, a sheet part of SPLIT_MIN_BYTES to SPLIT_MAX_BYTES is parsed on
 * this thread and a worker at once (split.ts): the same rows, in the same order, the same errors.
 */
export async function readSheetChecked(
  path: string,
  spec: SourceSpec,
  limits: ReadLimits,
  sink: RowSink,
  opts: { split?: boolean | SplitOptions } = {},
): Promise<{ sheet: SheetSummary; zip: ZipSummary; split?: SplitOutcome }> {
  const file = spec.file;
  const o = await openSheet(path, file, spec.sheet, limits);
  let split: SheetSplit | undefined;
  try {
    const { zip, info, bounds, ctx } = o;
    const sheetEntry = defined(zip.entry(o.ref.part), `zip entry ${o.ref.part}`);
    // A large sheet: a worker starts now (it loads while the shared strings are read) on the part's bytes.
    let source: PartSource = zip;
    const splitting = opts.split === true ? {} : opts.split || null;
    const from = splitting?.from ?? Math.floor(sheetEntry.uncompressed * SPLIT_SHARE);
    if (
      splitting &&
      sheetEntry.uncompressed >= (splitting.minBytes ?? SPLIT_MIN_BYTES) &&
      sheetEntry.uncompressed <= (splitting.maxBytes ?? SPLIT_MAX_BYTES)
    ) {
      const data = await zip.compressed(sheetEntry, { shared: true });
      source = new PartBytes(file, sheetEntry, data);
      split = await SheetSplit.start(
        {
          display: file,
          sheet: ctx.sheet,
          entry: sheetEntry,
          data,
          from,
          columns: [...spec.columns],
          maxRows: limits.maxRows,
          maxColumns: limits.maxColumns,
          maxCellChars: limits.maxCellChars,
          maxMillis: limits.maxMillis,
          maxInFlight: MAX_IN_FLIGHT,
        },
        splitting.workerUrl,
      );
    }
    const [shared, dateStyles] = await timed(`read ${file}: shared strings and styles`, () =>
      Promise.all([readSharedStrings(zip, info.sharedStrings, bounds), readDateStyles(zip, info.styles, bounds)]),
    );
    ctx.shared = shared;
    ctx.dateStyles = dateStyles;
    const rows = new SpecRows(spec, ctx, limits, sink);
    const handler = new SheetHandler(new RowCells(limits.maxColumns), rows, limits.maxColumns, file, ctx.sheet);
    let cut: PartCut | undefined;
    const outcome: SplitOutcome = { cut: null, workerRows: 0, workerDone: false };
    if (split) {
      const s = split;
      rows.onHeader = () =>
        s.begin({
          shared: shared.data(),
          dateStyles: [...dateStyles],
          epoch: ctx.epoch,
          index: defined(rows.index, 'the header'),
        });
      cut = {
        from,
        at: async () => (outcome.cut = await s.at()),
        taken: (clean) =>
          takeSplit(
            s,
            clean && handler.depth === 2 && handler.inSheetData && rows.index !== null,
            rows,
            bounds,
            outcome,
          ),
      };
    }
    await timed(`read ${file}: sheet rows to the sink`, () =>
      parsePart(source, sheetEntry, handler, bounds, { drain: true, ...(cut ? { cut } : {}) }),
    );
    // Read to its end, here or (a split taken) on the worker, from the same bytes: verified.
    if (split) zip.markVerified(sheetEntry);
    await timed(`read ${file}: CRC of the other parts`, () => zip.verifyRest());
    const sheet = ctx.sheet;
    if (!rows.index)
      throw createError('BN_ERR_INPUT_EMPTY', `${file}, sheet "${sheet}" is empty: no header row`, {
        location: { file, sheet },
      });
    if (rows.rowCount === 0)
      throw createError('BN_ERR_INPUT_EMPTY', `${file}, sheet "${sheet}" has a header row but no data rows`, {
        location: { file, sheet, row: rows.headerRow + 1 },
      });
    return {
      sheet: {
        rowCount: rows.rowCount,
        headerRow: rows.headerRow,
        blankRows: rows.blank,
        extraColumns: rows.extra,
        sheetRead: sheet,
        ...(o.fallback ? { sheetFallback: o.fallback } : {}),
      },
      zip: zip.summary,
      ...(split ? { split: outcome } : {}),
    };
  } finally {
    await split?.close();
    await o.zip.close();
  }
}

/**
 * At the cut of a split sheet: the worker's rows appended after this thread's own, batch by batch
 * as they come, when the parse here stopped where the cut is safe (`safe`). True when the worker
 * read the rest of the part; false to parse on from the cut (the worker failed, or the cut is not
 * safe), the rows appended already passed over.
 */
async function takeSplit(
  split: SheetSplit,
  safe: boolean,
  rows: SpecRows,
  bounds: XmlBounds,
  outcome: SplitOutcome,
): Promise<boolean> {
  if (!safe) {
    await split.close();
    return false;
  }
  const t0 = performance.now();
  const cpu0 = cpuMs();
  let elements = 0;
  let last = 0;
  try {
    for (;;) {
      const next = await split.next();
      if (next === true) return (outcome.workerDone = true);
      if (next === false) {
        rows.skip = elements;
        return false;
      }
      if (bounds.budget.spent()) throw timeout(bounds, { row: () => last });
      rows.replay(next);
      outcome.workerRows += next.rows.length;
      elements += next.elements;
      last = next.rows[next.rows.length - 1] ?? last;
      split.ack(next);
    }
  } finally {
    await split.close();
    mark(`read ${bounds.file}: rows after the cut, from the worker`, t0, cpu0);
  }
}

/**
 * Reads one sheet (as readSheetInto) into memory: one object per data row, keyed by column name,
 * plus `_row`. For tests and small sheets; the pipeline streams with readSheetInto.
 */
export async function readSheet(
  path: string,
  spec: SourceSpec,
  limits: ReadLimits = DEFAULT_READ_LIMITS,
): Promise<SheetData> {
  const rows: SheetData['rows'] = [];
  const names = spec.columns.map((c) => c.name);
  const summary = await readSheetInto(path, spec, limits, {
    row(values, row) {
      const o: Record<string, Converted> = {};
      // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- within the row's bounds
      for (let i = 0; i < names.length; i++) o[names[i]!] = values[i]!;
      o._row = row;
      rows.push(o);
    },
  });
  return { rows, ...summary };
}

/** Keeps the raw cells of the first row and stops: the shared strings are read afterwards, only as far as needed. */
class FirstRow implements RowConsumer {
  wanted: Uint8Array | null = null;
  row = (row: number, cells: RowCells): boolean => {
    this.number = row;
    this.cells = cells;
    return true;
  };
  number = 0;
  cells: RowCells | null = null;
}

/**
 * The vital check's structural part, with the same parser as the full read: an intact xlsx (zip
 * directory, sizes, CRC of every part), the required sheet (or the only worksheet) and a header row
 * holding the required columns. Stops parsing after the header row, and reads the shared strings
 * only as far as the header uses them; bounded in time (BN_MAX_READ_MS) like every pass. Same
 * messages as the full reader.
 */
export async function checkHeader(path: string, spec: SourceSpec, limits: ReadLimits): Promise<HeaderCheck> {
  const file = spec.file;
  const o = await openSheet(path, file, spec.sheet, limits);
  try {
    const { zip, info, bounds, ctx } = o;
    ctx.dateStyles = await readDateStyles(zip, info.styles, bounds);
    const first = new FirstRow();
    const t0 = performance.now();
    const cpu0 = cpuMs();
    await parsePart(
      zip,
      defined(zip.entry(o.ref.part), `zip entry ${o.ref.part}`),
      new SheetHandler(new RowCells(limits.maxColumns), first, limits.maxColumns, file, ctx.sheet),
      bounds,
    );
    const cells = first.cells;
    if (!cells)
      throw createError('BN_ERR_INPUT_EMPTY', `${file}, sheet "${ctx.sheet}" is empty: no header row`, {
        location: { file, sheet: ctx.sheet },
      });
    let needed = -1;
    for (let c = 1; c <= cells.last; c++)
      if (cells.has(c) && cells.type[c] === T_SHARED) needed = Math.max(needed, Number(cells.raw[c]));
    if (needed >= 0) ctx.shared = await readSharedStrings(zip, info.sharedStrings, bounds, needed + 1);
    locateColumns(headerNames(cells, ctx, first.number), spec, file, ctx.sheet, first.number);
    mark(`check ${file}: header row`, t0, cpu0);
    // Every part's CRC, the rest of the sheet included: a damaged file fails here, at ingest.
    await timed(`check ${file}: CRC of every part`, () => zip.verifyRest());
    return {
      zip: zip.summary,
      headerRow: first.number,
      sheetRead: ctx.sheet,
      ...(o.fallback ? { sheetFallback: o.fallback } : {}),
    };
  } finally {
    await o.zip.close();
  }
}

/** Rows of a sheet as the workbook holds them: `rows[i][c]` is column c (0-based) of the i-th row. */
export interface SheetValues {
  rows: CellValue[][];
  /** Excel row number of each row. */
  rowNumbers: number[];
}

/**
 * Reads the cells of one sheet as they are (no spec, no conversion), at most `maxRows` rows: for a
 * small sheet read back, such as the report's Summary. The sheet must be there by name
 * (BN_ERR_INPUT_SHEET_MISSING otherwise).
 */
export async function readSheetValues(
  path: string,
  display: string,
  sheet: string,
  limits: ReadLimits = DEFAULT_READ_LIMITS,
  maxRows = limits.maxRows,
): Promise<SheetValues> {
  const o = await openSheet(path, display, sheet, limits);
  try {
    if (o.fallback)
      throw createError(
        'BN_ERR_INPUT_SHEET_MISSING',
        `${display}: sheet "${sheet}" is missing (sheets found: ${quoteList(o.info.sheets)})`,
        { location: { file: display, sheet } },
      );
    const { zip, info, bounds, ctx } = o;
    const [shared, dateStyles] = await Promise.all([
      readSharedStrings(zip, info.sharedStrings, bounds),
      readDateStyles(zip, info.styles, bounds),
    ]);
    ctx.shared = shared;
    ctx.dateStyles = dateStyles;
    const out: SheetValues = { rows: [], rowNumbers: [] };
    const consumer: RowConsumer = {
      wanted: null,
      row(row, cells) {
        const values: CellValue[] = [];
        for (let c = 1; c <= cells.last; c++) values.push(cells.value(c, ctx, row));
        out.rows.push(values);
        out.rowNumbers.push(row);
        return out.rows.length >= maxRows;
      },
    };
    await parsePart(
      zip,
      defined(zip.entry(o.ref.part), `zip entry ${o.ref.part}`),
      new SheetHandler(new RowCells(limits.maxColumns), consumer, limits.maxColumns, display, sheet),
      bounds,
    );
    return out;
  } finally {
    await o.zip.close();
  }
}

/** Converted rows, column by column: what a worker thread sends back, batch by batch, to be appended. */
export interface RowBatch {
  /** columns[i][k]: the spec's i-th column in the k-th row of the batch. */
  columns: Converted[][];
  /** Excel row number of each row. */
  rows: number[];
}

/** Rows per batch a worker sends: large enough that messages cost nothing, small enough to stream. */
const BATCH_ROWS = 4096;

/**
 * Reads a sheet (as readSheetInto) on a worker thread and sends its rows in batches, as they are
 * read, to the thread that appends them (a DuckDB connection cannot cross threads): the two threads
 * work at once. `send` is the worker pool's (Task.onMessage receives the batches); replay each with
 * `replayBatch`.
 */
export async function readSheetBatches(
  path: string,
  spec: SourceSpec,
  limits: ReadLimits,
  send: (batch: RowBatch) => void,
): Promise<SheetSummary> {
  const fresh = (): RowBatch => ({ columns: spec.columns.map(() => []), rows: [] });
  let batch = fresh();
  const summary = await readSheetInto(path, spec, limits, {
    row(values, row) {
      // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- within the row's bounds, per cell
      for (let i = 0; i < values.length; i++) batch.columns[i]!.push(values[i]!);
      batch.rows.push(row);
      if (batch.rows.length >= BATCH_ROWS) {
        send(batch);
        batch = fresh();
      }
    },
  });
  if (batch.rows.length) send(batch);
  return summary;
}

/** Hands the rows of a batch to a sink, in order. */
export function replayBatch(batch: RowBatch, sink: RowSink): void {
  const values = new Array<Converted>(batch.columns.length);
  for (let k = 0; k < batch.rows.length; k++) {
    // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- within the batch's bounds, per cell
    for (let i = 0; i < values.length; i++) values[i] = batch.columns[i]![k]!;
    sink.row(values, defined(batch.rows[k], `row ${k} of the batch`));
  }
}
