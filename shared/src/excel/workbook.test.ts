import { describe, expect, it } from 'vitest';
import { EPOCH_1900, EPOCH_1904, excelDate, timestampText } from './cells.js';
import { columnName, columnOf } from './sheet.js';
import { decodeExcelEscapes, isDateFormat, resolveTarget } from './workbook.js';

describe('isDateFormat: a custom number format shows a date or a time', () => {
  it('when it has d, m, y, h or s outside quotes, brackets and escapes', () => {
    for (const f of [
      'yyyy\\-mm\\-dd\\ hh:mm:ss',
      'dd/mm/yyyy',
      'h:mm AM/PM',
      '[h]:mm:ss',
      '[$-40C]d mmmm yyyy',
      'mmm-yy',
      '[Red]dd/mm/yyyy',
    ])
      expect(isDateFormat(f), f).toBe(true);
  });
  it('not for numbers, currencies, text in quotes or colours', () => {
    for (const f of [
      'General',
      '0.00',
      '#,##0.00 [$\u20ac-fr-FR]',
      '"days" 0',
      '0.0" ms"',
      '[Red]0.00;[Blue]-0.00',
      '\\d0',
      '_-* #,##0_-',
      '@',
    ])
      expect(isDateFormat(f), f).toBe(false);
  });
});

describe('decodeExcelEscapes', () => {
  it('decodes _xHHHH_ as the UTF-16 code unit, _x005F_ as a literal underscore, and leaves the rest', () => {
    expect(decodeExcelEscapes('a_x000D_b')).toBe('a\rb');
    expect(decodeExcelEscapes('_x005F_x0041_')).toBe('_x0041_');
    expect(decodeExcelEscapes('_xD83D__xDE00_')).toBe('\ud83d\ude00');
    expect(decodeExcelEscapes('my_xml_file _x12_ _xZZZZ_')).toBe('my_xml_file _x12_ _xZZZZ_');
    expect(decodeExcelEscapes('plain')).toBe('plain');
  });
});

describe('resolveTarget: a relationship target to a zip entry name', () => {
  it('relative to the source part, absolute from the root, with . and .. and %-escapes', () => {
    expect(resolveTarget('xl/workbook.xml', 'worksheets/sheet1.xml')).toBe('xl/worksheets/sheet1.xml');
    expect(resolveTarget('xl/workbook.xml', '/xl/worksheets/sheet1.xml')).toBe('xl/worksheets/sheet1.xml');
    expect(resolveTarget('xl/workbook.xml', './worksheets/../worksheets/sheet%202.xml')).toBe(
      'xl/worksheets/sheet 2.xml',
    );
    expect(resolveTarget('', 'xl/workbook.xml')).toBe('xl/workbook.xml');
    expect(resolveTarget('xl/workbook.xml', '../../../../etc/passwd')).toBe('etc/passwd');
  });
});

describe('cell references', () => {
  it('column numbers from letters and back', () => {
    expect([columnOf('A1'), columnOf('Z9'), columnOf('AA10'), columnOf('XFD1048576'), columnOf('12')]).toEqual([
      1, 26, 27, 16_384, 0,
    ]);
    expect([columnName(1), columnName(26), columnName(27), columnName(513), columnName(16_384)]).toEqual([
      'A',
      'Z',
      'AA',
      'SS',
      'XFD',
    ]);
  });
});

describe('Excel dates', () => {
  it('serials of both date systems to the same wall clock', () => {
    expect(timestampText(excelDate(45322.520833333336, EPOCH_1900))).toBe('2024-01-31 12:30:00.000');
    expect(timestampText(excelDate(43860.520833333336, EPOCH_1904))).toBe('2024-01-31 12:30:00.000');
    expect(timestampText(excelDate(0, EPOCH_1904))).toBe('1904-01-01 00:00:00.000');
  });
  it('steps over the 1900-02-29 that Excel invents', () => {
    expect(timestampText(excelDate(1, EPOCH_1900))).toBe('1900-01-01 00:00:00.000');
    expect(timestampText(excelDate(59, EPOCH_1900))).toBe('1900-02-28 00:00:00.000');
    expect(timestampText(excelDate(61, EPOCH_1900))).toBe('1900-03-01 00:00:00.000');
  });
  it('formats like toISOString without its T and Z, for any time', () => {
    for (const ms of [0, -1, 86_399_999, 1_706_704_200_123, 253_402_300_799_999, -30_610_224_000_000]) {
      const d = new Date(ms);
      expect(timestampText(d), String(ms)).toBe(d.toISOString().slice(0, 23).replace('T', ' '));
    }
  });
});
