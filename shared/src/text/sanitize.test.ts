import { describe, expect, it } from 'vitest';
import { neutralizeText } from './sanitize.js';

describe('neutralizeText (OWASP CSV injection)', () => {
  it('prefixes with a quote a value starting with =, +, -, @, tab, CR or NUL', () => {
    const cases: [string, string][] = [
      ['=HYPERLINK("http://evil.example","x")', '\'=HYPERLINK("http://evil.example","x")'],
      ["+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"],
      ['-2+3', "'-2+3"],
      ['@SUM(A1:A9)', "'@SUM(A1:A9)"],
      ['\t=1+1', "'\t=1+1"],
      ['\r=1+1', "'\r=1+1"],
      ['\u0000=1+1', "'\u0000=1+1"],
      ['=', "'="],
    ];
    for (const [input, output] of cases) expect(neutralizeText(input)).toBe(output);
  });

  it('leaves other values alone, even with those characters further in', () => {
    for (const s of [
      '',
      'Ch\u00e2teau Margaux 2015',
      'a=b',
      'x-1',
      'mail@example.com',
      "'=already quoted",
      ' =1',
      '\n=1',
      '1e5',
      '42',
    ]) {
      expect(neutralizeText(s)).toBe(s);
    }
  });

  it('is applied once: a neutralised value is not prefixed again', () => {
    const once = neutralizeText('=1+1');
    expect(neutralizeText(once)).toBe(once);
  });
});
