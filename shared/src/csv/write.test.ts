import { describe, expect, it } from 'vitest';
import { toCsv, type CsvColumn } from './write.js';

const cols: CsvColumn[] = [
  { name: 'product_id', kind: 'number' },
  { name: 'post_title', kind: 'text' },
  { name: 'price', kind: 'number' },
  { name: 'premium', kind: 'boolean' },
];

describe('toCsv', () => {
  it('writes a header and one line per row, \\n line ends, a final newline, no BOM', () => {
    const csv = toCsv(cols, [['4954', 'Ch\u00e2teau Margaux', '24.20', 'true'], ['15', 'Pinot', '-3.50', 'false']]);
    expect(csv).toBe('product_id,post_title,price,premium\n4954,Ch\u00e2teau Margaux,24.20,true\n15,Pinot,-3.50,false\n');
  });

  it('neutralises text cells starting with =, +, -, @, tab, CR or NUL, and never number or boolean cells', () => {
    const csv = toCsv(cols, [
      ['-1', '=HYPERLINK("http://evil.example")', '-24.20', 'true'],
      ['+2', '+cmd', '+1', 'false'],
      ['3', '-minus', '3', 'true'],
      ['4', '@SUM(A1)', '4', 'true'],
      ['5', '\tTab', '5', 'true'],
      ['6', '\u0000nul', '6', 'true'],
    ]);
    expect(csv.split('\n')).toEqual([
      'product_id,post_title,price,premium',
      '-1,"\'=HYPERLINK(""http://evil.example"")",-24.20,true',
      '+2,\'+cmd,+1,false',
      '3,\'-minus,3,true',
      '4,\'@SUM(A1),4,true',
      '5,\'\tTab,5,true',
      '6,\'\u0000nul,6,true',
      '',
    ]);
  });

  it('neutralises a dangerous CR-led text cell and quotes it, as it holds a line break', () => {
    expect(toCsv([{ name: 't', kind: 'text' }], [['\r=1+1']])).toBe('t\n"\'\r=1+1"\n');
  });

  it('quotes cells holding a comma, a quote, a line break or edge spaces, doubling quotes', () => {
    const text: CsvColumn[] = [{ name: 'a', kind: 'text' }, { name: 'b', kind: 'text' }];
    expect(toCsv(text, [
      ['Margaux, 2015', 'say "hi"'],
      ['two\nlines', 'cr\r\nlf'],
      [' lead', 'trail '],
      ['plain', ''],
    ])).toBe('a,b\n"Margaux, 2015","say ""hi"""\n"two\nlines","cr\r\nlf"\n" lead","trail "\nplain,\n');
  });

  it('writes null (and a missing cell) as an empty cell', () => {
    expect(toCsv(cols, [[null, null, null, null], ['1']])).toBe('product_id,post_title,price,premium\n,,,\n1,,,\n');
  });

  it('neutralises and quotes header names like text', () => {
    expect(toCsv([{ name: '=evil', kind: 'number' }, { name: 'a,b', kind: 'text' }], [])).toBe('\'=evil,"a,b"\n');
  });

  it('is deterministic: the same rows give the same bytes', () => {
    const rows = [['1', '=x', '2.00', 'true'], ['2', 'a,"b"', null, 'false']];
    const first = toCsv(cols, rows);
    expect(toCsv(cols, rows.map((r) => [...r]))).toBe(first);
    expect(Buffer.from(first, 'utf8').subarray(0, 3).equals(Buffer.from([0xef, 0xbb, 0xbf]))).toBe(false);
  });
});
