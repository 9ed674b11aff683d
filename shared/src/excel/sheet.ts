import { createError } from '../errors/index.js';
import { excelDate, type CellValue } from './cells.js';
import type { SharedStrings } from './shared-strings.js';
import { decodeExcelEscapes } from './workbook.js';
import { isMain, type Attributes, type XmlHandler } from './xml.js';

/** A cell's type, from its t attribute: n or none (a number, or a date by its style). */
export const T_NUMBER = 0;
/** t="s": an index into the shared strings. */
export const T_SHARED = 1;
/** t="str": a formula's text result. */
export const T_STR = 2;
/** t="inlineStr": the text in the cell's `<is>`. */
export const T_INLINE = 3;
/** t="b": 0 or 1. */
export const T_BOOL = 4;
/** t="e": an error (#N/A...). */
export const T_ERROR = 5;
/** t="d": an ISO 8601 date, as text. */
export const T_DATE = 6;

const typeCode = (t: string | undefined): number => {
  switch (t) {
    case undefined:
    case 'n':
      return T_NUMBER;
    case 's':
      return T_SHARED;
    case 'str':
      return T_STR;
    case 'inlineStr':
      return T_INLINE;
    case 'b':
      return T_BOOL;
    case 'e':
      return T_ERROR;
    case 'd':
      return T_DATE;
    default:
      return T_NUMBER;
  }
};

// Elements of a worksheet part.
const K_OTHER = 0;
const K_SHEETDATA = 1;
const K_ROW = 2;
const K_C = 3;
const K_V = 4;
const K_T = 5;
const K_RPH = 6;

/** Column number (1-based) of a cell reference's letters (AB12 -> 28), or 0 when it has none. */
export function columnOf(ref: string): number {
  let n = 0;
  for (let i = 0; i < ref.length; i++) {
    const c = ref.charCodeAt(i);
    if (c < 65 || c > 90) break;
    n = n * 26 + (c - 64);
    if (n > 16_384) return n;
  }
  return n;
}

/** Column letters of a column number (28 -> AB). */
export function columnName(n: number): string {
  let s = '';
  for (let x = n; x > 0; x = Math.floor((x - 1) / 26)) s = String.fromCharCode(65 + ((x - 1) % 26)) + s;
  return s;
}

/** What the sheet's cells need to become values: the shared strings, which styles are dates, the date system. */
export interface CellContext {
  shared: SharedStrings;
  dateStyles: readonly boolean[];
  /** EPOCH_1900 or EPOCH_1904. */
  epoch: number;
  file: string;
  sheet: string;
}

/**
 * The cells of the row being read, by column number (1-based). Only the columns the consumer
 * wants are kept (all of them until it says otherwise).
 */
export class RowCells {
  /** Highest column number kept in this row. */
  last = 0;
  /** By column: the cell's type (T_*), its style index (s), its raw text (`<v>` or the inline text). */
  readonly type: Int8Array;
  readonly style: Int32Array;
  readonly raw: string[];
  private readonly stamp: Int32Array;
  private seq = 1;

  constructor(maxColumns: number) {
    this.type = new Int8Array(maxColumns + 1);
    this.style = new Int32Array(maxColumns + 1);
    this.raw = new Array<string>(maxColumns + 1).fill('');
    this.stamp = new Int32Array(maxColumns + 1);
  }

  /** @internal */ reset(): void {
    this.seq++;
    this.last = 0;
  }

  /** @internal */ set(col: number, type: number, style: number, raw: string): void {
    this.type[col] = type;
    this.style[col] = style;
    this.raw[col] = raw;
    this.stamp[col] = this.seq;
  }

  /** Whether the row has a cell with a value in this column. */
  has(col: number): boolean {
    return this.stamp[col] === this.seq;
  }

  /** The cell's value (null when empty). Throws BN_ERR_INPUT_CORRUPT for a shared string that is not there. */
  value(col: number, ctx: CellContext, row: number): CellValue {
    if (this.stamp[col] !== this.seq) return null;
    const raw = this.raw[col]!;
    switch (this.type[col]) {
      case T_NUMBER: {
        if (raw === '') return null;
        const n = Number(raw);
        if (Number.isNaN(n)) return raw;
        return ctx.dateStyles[this.style[col]!] ? excelDate(n, ctx.epoch) : n;
      }
      case T_SHARED: {
        const s = ctx.shared.get(Number(raw));
        if (s === undefined) {
          throw createError(
            'BN_ERR_INPUT_CORRUPT',
            `${ctx.file}, sheet "${ctx.sheet}", row ${row}: cell ${columnName(col)}${row} refers to shared string ${JSON.stringify(raw)}, which the workbook does not have; export it again from Excel and drop it again`,
            { location: { file: ctx.file, sheet: ctx.sheet, row } },
          );
        }
        return s;
      }
      case T_STR:
      case T_INLINE:
        return decodeExcelEscapes(raw);
      case T_BOOL:
        return raw === '1' || raw === 'true';
      case T_ERROR:
        return { error: raw };
      default:
        return raw === '' ? null : raw;
    }
  }
}

/** Receives the rows of a sheet as the parse reaches them. */
export interface RowConsumer {
  /** A row is complete; `row` is its Excel number. Return true to stop reading. */
  row(row: number, cells: RowCells): boolean | undefined;
  /** Columns to keep, by column number; null: all. Read again after each row. */
  wanted: Uint8Array | null;
}

/**
 * The worksheet part's handler: rows and cells with or without `r` references, sparse rows,
 * shared, inline (rich-text runs joined, phonetic runs left out) and formula text, numbers,
 * booleans, errors; bounded in columns. The consumer turns cells into values.
 */
export class SheetHandler implements XmlHandler {
  done = false;
  /** Elements open (the worksheet's root is 1, its sheetData 2): where a part may be cut (excel/split.ts). */
  depth = 0;
  /** Whether the last row opened had its number written (a valid r): a row without one counts on from the row before. */
  numbered = false;
  private current = 0;
  private col = 0;
  private cellType = 0;
  private cellStyle = 0;
  private keep = false;
  private capture = false;
  private phonetic = 0;
  private buf = '';
  /** Inside the sheet's `<sheetData>`, where rows are read. */
  inSheetData = false;

  constructor(
    private readonly cells: RowCells,
    private readonly consumer: RowConsumer,
    private readonly maxColumns: number,
    private readonly file: string,
    private readonly sheet: string,
  ) {}

  classify(uri: string, local: string): number {
    if (!isMain(uri)) return K_OTHER;
    switch (local) {
      case 'sheetData':
        return K_SHEETDATA;
      case 'row':
        return K_ROW;
      case 'c':
        return K_C;
      case 'v':
        return K_V;
      case 't':
        return K_T;
      case 'rPh':
        return K_RPH;
      default:
        return K_OTHER;
    }
  }

  row(): number {
    return this.current;
  }

  open(kind: number, attrs: Attributes): void {
    this.depth++;
    // The parser finishes the chunk it was given: once done, the rest of it is ignored.
    if (this.done) return;
    switch (kind) {
      case K_C:
        this.startCell(attrs.r, attrs.s, attrs.t);
        return;
      case K_V:
        this.capture = this.keep;
        return;
      case K_T:
        this.capture = this.keep && this.phonetic === 0 && this.cellType === T_INLINE;
        return;
      case K_RPH:
        this.phonetic++;
        return;
      case K_ROW: {
        if (!this.inSheetData) return;
        const r = attrs.r;
        const n = r === undefined ? 0 : Number(r);
        this.numbered = Number.isSafeInteger(n) && n > 0;
        this.current = this.numbered ? n : this.current + 1;
        this.col = 0;
        this.cells.reset();
        return;
      }
      case K_SHEETDATA:
        this.inSheetData = true;
        return;
      default:
    }
  }

  /** The kinds of `c` and `v`: cells written the usual way come through `cell` (xml.ts). */
  readonly cellKinds = [K_C, K_V] as const;

  /** What open(c), open(v), text(v), close(v) and close(c) would do, in one call (xml.ts). */
  cell(r: string | undefined, s: string | undefined, t: string | undefined, v: string | undefined): void {
    if (this.done) return;
    this.startCell(r, s, t);
    if (v !== undefined && this.keep) this.buf = v;
    this.endCell();
  }

  private startCell(r: string | undefined, s: string | undefined, t: string | undefined): void {
    const c = r === undefined ? 0 : columnOf(r);
    this.col = c > 0 ? c : this.col + 1;
    if (this.col > this.maxColumns) {
      throw createError(
        'BN_ERR_INPUT_TOO_LARGE',
        `${this.file}, sheet "${this.sheet}", row ${this.current}: a cell in column ${this.col > 16_384 ? this.col : columnName(this.col)}, more than the ${this.maxColumns} columns allowed`,
        { location: { file: this.file, sheet: this.sheet, row: this.current } },
      );
    }
    const wanted = this.consumer.wanted;
    this.keep = wanted === null || wanted[this.col] === 1;
    if (this.keep) {
      this.cellType = typeCode(t);
      this.cellStyle = s === undefined ? 0 : Number(s) | 0;
      this.buf = '';
    }
  }

  private endCell(): void {
    if (this.keep) {
      this.cells.set(this.col, this.cellType, this.cellStyle, this.buf);
      if (this.col > this.cells.last) this.cells.last = this.col;
    }
    this.keep = false;
  }

  close(kind: number): void {
    this.depth--;
    if (this.done) return;
    switch (kind) {
      case K_V:
      case K_T:
        this.capture = false;
        return;
      case K_C:
        this.endCell();
        return;
      case K_RPH:
        this.phonetic--;
        return;
      case K_ROW:
        if (this.inSheetData && this.consumer.row(this.current, this.cells)) this.done = true;
        return;
      case K_SHEETDATA:
        this.inSheetData = false;
        // The rest of the part (merged cells, filters, page setup) holds no rows.
        this.done = true;
        return;
      default:
    }
  }

  text(t: string): void {
    if (this.capture) this.buf += t;
  }
}
