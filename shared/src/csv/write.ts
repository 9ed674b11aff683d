import { neutralizeText } from '../text/sanitize.js';

export type CsvKind = 'text' | 'number' | 'boolean';

export interface CsvColumn {
  name: string;
  kind: CsvKind;
}

function quote(s: string): string {
  return /[",\r\n]/.test(s) || s !== s.trim() ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * Deterministic CSV (RFC 4180, `\n` line ends, UTF-8 without BOM): the caller gives values already
 * formatted as text (numbers with their fixed formatting); text cells are neutralised against
 * formula injection, number and boolean cells are written as they are. null is an empty cell.
 */
export function toCsv(columns: readonly CsvColumn[], rows: readonly (readonly (string | null)[])[]): string {
  const out: string[] = [columns.map((c) => quote(neutralizeText(c.name))).join(',')];
  for (const row of rows) {
    const cells = columns.map((c, i) => {
      const v = row[i];
      if (v === null || v === undefined) return '';
      return quote(c.kind === 'text' ? neutralizeText(v) : v);
    });
    out.push(cells.join(','));
  }
  return out.join('\n') + '\n';
}
