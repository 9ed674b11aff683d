import { describe, expect, it } from 'vitest';
import { BottleneckError } from '../errors/index.js';
import type { ColumnSpec, ColumnType } from '../sources.js';
import { convert, EPOCH_1900, EPOCH_1904, excelDate, timestampText, type CellPlace, type CellValue } from './cells.js';

// One cell converted to its column's type: what DuckDB gets, or a refusal that names the file,
// sheet, column and row and shows the value (cut when long).

const AT: CellPlace = { file: 'erp.xlsx', sheet: 'Sheet1', row: 7, maxCellChars: 10, epoch: EPOCH_1900 };
const col = (type: ColumnType): ColumnSpec => ({ name: `c_${type}`, type, sql: 'X' });
const conv = (type: ColumnType, v: CellValue, at: CellPlace = AT) => convert(v, col(type), at);
const FIX = 'Fix the cell in the export and drop the file again.';

function refusal(type: ColumnType, v: CellValue, at: CellPlace = AT): BottleneckError {
  try {
    conv(type, v, at);
  } catch (e) {
    expect(e).toBeInstanceOf(BottleneckError);
    return e as BottleneckError;
  }
  throw new Error(`${String(v)} was converted to ${type}`);
}
const said = (type: ColumnType, v: CellValue, at: CellPlace = AT) => refusal(type, v, at).message;
const where = (type: ColumnType) => `erp.xlsx, sheet "Sheet1", column "c_${type}", row 7`;

describe('convert: empty cells', () => {
  it('null and the empty string are null in every type', () => {
    for (const t of ['int', 'decimal', 'double', 'text', 'timestamp'] as const) {
      expect(conv(t, null), t).toBeNull();
      expect(conv(t, ''), t).toBeNull();
    }
  });

  it('blank text is null where a number is expected', () => {
    expect(conv('int', '   ')).toBeNull();
    expect(conv('decimal', ' \t ')).toBeNull();
  });
});

describe('convert: text', () => {
  it('keeps text as it is (spaces too), and writes numbers, booleans and dates as text', () => {
    expect(conv('text', '  a b ')).toBe('  a b ');
    expect(conv('text', 'x'.repeat(10))).toBe('x'.repeat(10));
    expect(conv('text', 12.5)).toBe('12.5');
    expect(conv('text', true)).toBe('true');
    expect(conv('text', new Date(Date.UTC(2024, 0, 31)), { ...AT, maxCellChars: 100 })).toBe(
      '2024-01-31T00:00:00.000Z',
    );
  });

  it('refuses more than maxCellChars characters, text or a number written as text', () => {
    const e = refusal('text', 'x'.repeat(11));
    expect(e).toMatchObject({
      code: 'BN_ERR_INPUT_TOO_LARGE',
      message: `${where('text')}: the cell holds 11 characters, more than 10`,
      location: { file: 'erp.xlsx', sheet: 'Sheet1', column: 'c_text', row: 7 },
    });
    expect(conv('text', 12345, { ...AT, maxCellChars: 5 })).toBe('12345');
    expect(said('text', 12345, { ...AT, maxCellChars: 4 })).toBe(
      `${where('text')}: the cell holds 5 characters, more than 4`,
    );
  });

  it('refuses an Excel error in any column, naming the error', () => {
    for (const t of ['int', 'decimal', 'double', 'text', 'timestamp'] as const) {
      const e = refusal(t, { error: '#N/A' });
      expect(e.code).toBe('BN_ERR_INPUT_BAD_VALUE');
      expect(e.message).toBe(`${where(t)}: "#N/A" is an Excel error or an unsupported value. ${FIX}`);
      expect(e.location).toEqual({ file: 'erp.xlsx', sheet: 'Sheet1', column: `c_${t}`, row: 7 });
    }
  });
});

describe('convert: int', () => {
  it('whole numbers, and whole-number text of up to 15 digits with spaces around', () => {
    expect(conv('int', 42)).toBe(42);
    expect(conv('int', -3)).toBe(-3);
    expect(conv('int', Number.MAX_SAFE_INTEGER)).toBe(Number.MAX_SAFE_INTEGER);
    expect(conv('int', ' -42 ')).toBe(-42);
    expect(conv('int', '123456789012345')).toBe(123456789012345);
  });

  it('refuses fractions, unsafe integers, longer text, words, booleans and dates', () => {
    expect(said('int', 1.5)).toBe(`${where('int')}: 1.5 is not a whole number. ${FIX}`);
    expect(said('int', 2 ** 53)).toBe(`${where('int')}: 9007199254740992 is not a whole number. ${FIX}`);
    expect(said('int', '1234567890123456')).toBe(`${where('int')}: "1234567890123456" is not a whole number. ${FIX}`);
    expect(said('int', '1.0')).toBe(`${where('int')}: "1.0" is not a whole number. ${FIX}`);
    expect(said('int', '12 3')).toBe(`${where('int')}: "12 3" is not a whole number. ${FIX}`);
    expect(said('int', 'a12')).toBe(`${where('int')}: "a12" is not a whole number. ${FIX}`);
    expect(said('int', '12a')).toBe(`${where('int')}: "12a" is not a whole number. ${FIX}`);
    expect(said('int', true)).toBe(`${where('int')}: true is not a whole number. ${FIX}`);
  });

  it('cuts a value longer than 60 characters in the message', () => {
    const sixty = '1'.repeat(58); // 60 with its quotes: shown whole
    expect(said('int', sixty)).toBe(`${where('int')}: "${sixty}" is not a whole number. ${FIX}`);
    const cut = 'y'.repeat(59); // 61 with its quotes: 57 shown and ...
    expect(said('int', cut)).toBe(`${where('int')}: "${'y'.repeat(56)}... is not a whole number. ${FIX}`);
  });
});

describe('convert: decimal', () => {
  it('numbers to exact text of at most 4 decimals, binary noise removed', () => {
    expect(conv('decimal', 24.200000000000003)).toBe('24.2');
    expect(conv('decimal', 100)).toBe('100');
    expect(conv('decimal', 0)).toBe('0');
    expect(conv('decimal', -0.5)).toBe('-0.5');
    expect(conv('decimal', 1.2345)).toBe('1.2345');
    expect(conv('decimal', 99_999_999_999_999)).toBe('99999999999999');
    expect(conv('decimal', 12345678.9012)).toBe('12345678.9012');
    // The noise allowed is relative: 1e-7 on a million is noise, on 0.5 it is a fifth decimal.
    expect(conv('decimal', 1_000_000.0001001)).toBe('1000000.0001');
    expect(said('decimal', 0.5000001)).toBe(`${where('decimal')}: 0.5000001 has more than 4 decimal places. ${FIX}`);
  });

  it('text of up to 14 digits and 4 decimals as written, trimmed', () => {
    expect(conv('decimal', ' 8.50 ')).toBe('8.50');
    expect(conv('decimal', '-12')).toBe('-12');
    expect(conv('decimal', '12345678901234.1234')).toBe('12345678901234.1234');
  });

  it('refuses more decimals, numbers too large, text that is not a number', () => {
    expect(said('decimal', 1.23456)).toBe(`${where('decimal')}: 1.23456 has more than 4 decimal places. ${FIX}`);
    expect(said('decimal', 0.00001)).toBe(`${where('decimal')}: 0.00001 has more than 4 decimal places. ${FIX}`);
    expect(said('decimal', 1e14)).toBe(`${where('decimal')}: 100000000000000 is too large for a price. ${FIX}`);
    expect(said('decimal', -1e14)).toBe(`${where('decimal')}: -100000000000000 is too large for a price. ${FIX}`);
    expect(said('decimal', Infinity)).toBe(`${where('decimal')}: Infinity is too large for a price. ${FIX}`);
    expect(said('decimal', NaN)).toBe(`${where('decimal')}: NaN has more than 4 decimal places. ${FIX}`);
    for (const s of ['1.23456', '123456789012345', '1.', '.5', '1,5', 'x1', '1x', '1 2'])
      expect(said('decimal', s), s).toBe(`${where('decimal')}: ${JSON.stringify(s)} is not a number. ${FIX}`);
    expect(said('decimal', false)).toBe(`${where('decimal')}: false is not a number. ${FIX}`);
  });
});

describe('convert: double', () => {
  it('finite numbers, and text that is one', () => {
    expect(conv('double', 4.5)).toBe(4.5);
    expect(conv('double', ' 2.5 ')).toBe(2.5);
    expect(conv('double', '1e3')).toBe(1000);
  });

  it('refuses infinities, words and booleans', () => {
    expect(said('double', Infinity)).toBe(`${where('double')}: Infinity is not a number. ${FIX}`);
    expect(said('double', 'Infinity')).toBe(`${where('double')}: "Infinity" is not a number. ${FIX}`);
    expect(said('double', 'abc')).toBe(`${where('double')}: "abc" is not a number. ${FIX}`);
    expect(said('double', true)).toBe(`${where('double')}: true is not a number. ${FIX}`);
    // Blank text is not 0 (Number('  ') is).
    expect(said('double', '  ')).toBe(`${where('double')}: "  " is not a number. ${FIX}`);
  });
});

describe('convert: timestamp', () => {
  it('dates, serial numbers of the date system in use, and ISO text to the naive wall clock', () => {
    expect(conv('timestamp', new Date(Date.UTC(2024, 0, 31, 12, 30, 5, 7)))).toBe('2024-01-31 12:30:05.007');
    expect(conv('timestamp', 45322.5)).toBe('2024-01-31 12:00:00.000');
    expect(conv('timestamp', 45322.5, { ...AT, epoch: EPOCH_1904 })).toBe('2028-02-01 12:00:00.000');
    expect(conv('timestamp', '2024-01-31')).toBe('2024-01-31 00:00:00.000');
    expect(conv('timestamp', ' 2024-01-31 12:30 ')).toBe('2024-01-31 12:30:00.000');
    expect(conv('timestamp', '2024-01-31T12:30:45')).toBe('2024-01-31 12:30:45.000');
    expect(conv('timestamp', '2024-01-31 12:30:45.25Z')).toBe('2024-01-31 12:30:45.250');
    expect(conv('timestamp', '2024-02-29 23:59:59')).toBe('2024-02-29 23:59:59.000');
  });

  it('refuses dates and times that do not exist, other text, booleans and serials out of range', () => {
    for (const s of [
      '2023-02-29',
      '2024-13-01',
      '2024-04-31',
      '2024-01-31 24:00',
      '2024-01-31 12:60',
      '2024-01-31 12:30:60',
      '2024-1-31',
      '31/01/2024',
      'x2024-01-31',
      '2024-01-31x',
      '2024-01-31 12',
      '0099-01-01', // Date.UTC would make it 1999
    ])
      expect(said('timestamp', s), s).toBe(`${where('timestamp')}: ${JSON.stringify(s)} is not a date. ${FIX}`);
    expect(said('timestamp', true)).toBe(`${where('timestamp')}: true is not a date. ${FIX}`);
    expect(said('timestamp', 1e12)).toBe(`${where('timestamp')}: 1000000000000 is not a date. ${FIX}`);
  });

  it('refuses a date after 9999-12-31 (Excel has none; DuckDB would fail on it without naming the cell)', () => {
    // 2958465 is 9999-12-31 in the 1900 system, the day after is not a date.
    expect(conv('timestamp', 2958465.5)).toBe('9999-12-31 12:00:00.000');
    expect(said('timestamp', 2958466)).toBe(`${where('timestamp')}: 2958466 is a date after the year 9999. ${FIX}`);
    expect(said('timestamp', 3e6)).toBe(`${where('timestamp')}: 3000000 is a date after the year 9999. ${FIX}`);
    expect(said('timestamp', new Date(Date.UTC(10000, 0, 1)))).toMatch(/is a date after the year 9999/);
  });
});

describe('excelDate and timestampText', () => {
  it('the 1904 system has no invented day to step over', () => {
    expect(timestampText(excelDate(59, EPOCH_1904))).toBe('1904-02-29 00:00:00.000');
    expect(timestampText(excelDate(60, EPOCH_1900))).toBe('1900-03-01 00:00:00.000');
    expect(timestampText(excelDate(0.5, EPOCH_1900))).toBe('1899-12-31 12:00:00.000');
  });

  it('rounds a serial to the millisecond, and writes every field of the time', () => {
    expect(timestampText(excelDate(45322 + 0.0000000058, EPOCH_1900))).toBe('2024-01-31 00:00:00.001');
    expect(timestampText(new Date(Date.UTC(2024, 11, 31, 23, 59, 58, 999)))).toBe('2024-12-31 23:59:58.999');
    expect(timestampText(new Date(Date.UTC(1000, 0, 1)))).toBe('1000-01-01 00:00:00.000');
    expect(timestampText(new Date(Date.UTC(9999, 11, 31, 1, 2, 3, 4)))).toBe('9999-12-31 01:02:03.004');
    expect(timestampText(new Date(Date.UTC(2000, 1, 29, 10, 0, 0)))).toBe('2000-02-29 10:00:00.000');
    expect(timestampText(new Date(Date.UTC(2100, 2, 1)))).toBe('2100-03-01 00:00:00.000');
    // Years of other than four digits, as toISOString writes them.
    expect(timestampText(new Date(Date.UTC(999, 11, 31, 23, 59, 59, 999)))).toBe('0999-12-31 23:59:59.999');
    expect(timestampText(new Date(Date.UTC(10_000, 0, 1, 1, 2, 3, 4)))).toBe('+010000-01-01 01:02:03.004');
  });
});
