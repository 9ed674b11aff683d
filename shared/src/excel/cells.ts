import { type CellLocation, createError } from '../errors/index.js';
import type { ColumnSpec } from '../sources.js';

/** An Excel error cell (#DIV/0!, #N/A...). */
export interface CellError {
  error: string;
}

/**
 * A cell's value as the workbook holds it: text (shared, inline or a formula's text result), a
 * number, a boolean, a date (a number whose number format is a date format; wall-clock time kept
 * in the Date's UTC fields), an error, or null for an empty cell.
 */
export type CellValue = string | number | boolean | Date | CellError | null;

/** What a cell becomes once converted to its column's type: JSON-safe, exact. */
export type Converted = string | number | null;

function describeValue(v: unknown): string {
  const s = typeof v === 'string' ? JSON.stringify(v) : String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** `n` (finite, under 1e14 in magnitude: the caller checks) as exact text of at most 4 decimals, or null. */
function toDecimalString(n: number): string | null {
  const fixed = n.toFixed(4);
  // A double that is a 4-decimal number but for binary noise (24.200000000000003) is that number.
  if (Math.abs(Number(fixed) - n) > 1e-9 * Math.max(1, Math.abs(n))) return null;
  // toFixed(4) always has a digit before its point: the trailing zeros (and point) leave one.
  return fixed.replace(/\.?0+$/, '');
}

const pad2 = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'));
const pad3 = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));

/**
 * A naive TIMESTAMP's text, 'YYYY-MM-DD HH:MM:SS.mmm': the wall-clock time held in the Date's UTC
 * fields. Computed from the day number (Hinnant's days-to-civil) rather than through toISOString,
 * which costs three strings per cell; years outside 1000-9999 take the slow path.
 */
export function timestampText(d: Date): string {
  const ms = d.getTime();
  const days = Math.floor(ms / 86_400_000);
  let rest = ms - days * 86_400_000;
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  // toISOString's own year there (0999, +010000, -000001): its text without the T and the Z.
  if (year < 1000 || year > 9999) return d.toISOString().slice(0, -1).replace('T', ' ');
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const mi = Math.floor(rest / 60_000);
  rest -= mi * 60_000;
  const s = Math.floor(rest / 1000);
  return `${year}-${pad2[month]}-${pad2[day]} ${pad2[h]}:${pad2[mi]}:${pad2[s]}.${pad3[rest - s * 1000]}`;
}

/** Days from the 1900 date system's day 0 (1899-12-30, after Excel's invented 1900-02-29) to 1970-01-01. */
export const EPOCH_1900 = 25569;
/** Days from the 1904 date system's day 0 (1904-01-01) to 1970-01-01. */
export const EPOCH_1904 = 24107;

/**
 * The wall-clock time of an Excel serial date (in the Date's UTC fields). `epoch` is EPOCH_1900 or
 * EPOCH_1904; in the 1900 system, serials before 1900-03-01 step over the day Excel invents (1900-02-29).
 */
export function excelDate(serial: number, epoch: number): Date {
  const s = epoch === EPOCH_1900 && serial < 61 ? serial + 1 : serial;
  return new Date(Math.round((s - epoch) * 86_400_000));
}

/** Where a conversion happens: for the error messages. */
export interface CellPlace {
  file: string;
  sheet: string;
  row: number;
  maxCellChars: number;
  /** EPOCH_1900 or EPOCH_1904: a plain number in a timestamp column is a serial date of this system. */
  epoch: number;
}

/**
 * Converts one cell to the value DuckDB will get for the column's type, or throws
 * BN_ERR_INPUT_BAD_VALUE naming the file, sheet, column and row: int (safe integer), decimal
 * (exact string, at most 4 decimals, 14 integer digits), double, text, timestamp (naive wall clock,
 * 'YYYY-MM-DD HH:MM:SS.mmm').
 */
export function convert(v: CellValue, col: ColumnSpec, at: CellPlace): Converted {
  if (v === null || v === '') return null;
  if (col.type === 'text' && typeof v === 'string' && v.length <= at.maxCellChars) return v;
  if (col.type === 'int' && typeof v === 'number' && Number.isSafeInteger(v)) return v;
  const loc: CellLocation = { file: at.file, sheet: at.sheet, column: col.name, row: at.row };
  const where = `${at.file}, sheet "${at.sheet}", column "${col.name}", row ${at.row}`;
  const bad = (what: string) =>
    createError(
      'BN_ERR_INPUT_BAD_VALUE',
      `${where}: ${describeValue(typeof v === 'object' && !(v instanceof Date) ? v.error : v)} ${what}. Fix the cell in the export and drop the file again.`,
      { location: loc },
    );
  if (typeof v === 'object' && !(v instanceof Date)) throw bad('is an Excel error or an unsupported value');
  switch (col.type) {
    case 'text': {
      const s = v instanceof Date ? v.toISOString() : String(v);
      if (s.length > at.maxCellChars)
        throw createError(
          'BN_ERR_INPUT_TOO_LARGE',
          `${where}: the cell holds ${s.length} characters, more than ${at.maxCellChars}`,
          { location: loc },
        );
      return s;
    }
    case 'int': {
      if (typeof v === 'string' && /^\s*-?\d{1,15}\s*$/.test(v)) return Number(v.trim());
      if (typeof v === 'string' && v.trim() === '') return null;
      throw bad('is not a whole number');
    }
    case 'decimal': {
      let s: string | null = null;
      // The same bound as text: DECIMAL(18,4) holds 14 integer digits.
      if (typeof v === 'number') s = Math.abs(v) < 1e14 ? toDecimalString(v) : null;
      else if (typeof v === 'string' && /^\s*-?\d{1,14}(\.\d{1,4})?\s*$/.test(v)) s = v.trim();
      else if (typeof v === 'string' && v.trim() === '') return null;
      if (s === null)
        throw bad(
          typeof v === 'number'
            ? Math.abs(v) >= 1e14
              ? 'is too large for a price'
              : 'has more than 4 decimal places'
            : 'is not a number',
        );
      return s;
    }
    case 'double': {
      if (typeof v === 'number' && Number.isFinite(v)) return v;
      if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
      throw bad('is not a number');
    }
    case 'timestamp': {
      let d: Date | null = null;
      if (v instanceof Date) d = v;
      else if (typeof v === 'number') d = excelDate(v, at.epoch);
      else if (typeof v === 'string') {
        const m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?)?Z?$/.exec(v.trim());
        if (m) {
          const [y = '0', mo = '1', da = '1', h = '0', mi = '0', se = '0'] = m.slice(1, 7) as (string | undefined)[];
          const t = Date.UTC(+y, +mo - 1, +da, +h, +mi, +se, Math.round(Number(m[7] ?? 0) * 1000));
          d = new Date(t);
          // Date.UTC rolls 2024-02-30 over to March: a date that does not exist is refused.
          if (
            d.getUTCFullYear() !== +y ||
            d.getUTCMonth() !== +mo - 1 ||
            d.getUTCDate() !== +da ||
            d.getUTCHours() !== +h ||
            d.getUTCMinutes() !== +mi ||
            d.getUTCSeconds() !== +se
          )
            d = null;
        }
      }
      if (!d || Number.isNaN(d.getTime())) throw bad('is not a date');
      // Excel's last date is 9999-12-31; DuckDB would refuse the text of a later one (+010000-...)
      // as the table is filled, where the error no longer knows its cell.
      if (d.getUTCFullYear() > 9999) throw bad('is a date after the year 9999');
      // Excel dates carry no zone: keep the wall-clock time as a naive TIMESTAMP.
      return timestampText(d);
    }
  }
}
