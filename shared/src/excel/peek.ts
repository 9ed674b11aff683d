import { BottleneckError } from '../errors/index.js';
import type { SourceSpec } from '../sources.js';
import { inspectZip, readEntry, readEntryTextUntil, type ZipLimits, type ZipSummary } from './zip-guard.js';

const decode = (t: string): string =>
  t.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&#(\d+);/g, (_, n: string) => String.fromCodePoint(Number(n))).replace(/&amp;/g, '&');

/** A stop condition for readEntryTextUntil: `n` closing tags seen (counted once each, across chunks). */
function counter(tag: string, n: number): (text: string) => boolean {
  let seen = 0;
  let from = 0;
  return (text) => {
    if (!Number.isFinite(n)) return false;
    // A tag cut by the previous chunk's end is found by looking back tag.length - 1 characters.
    seen += text.slice(Math.max(0, from - (tag.length - 1))).split(tag).length - 1;
    from = text.length;
    return seen >= n;
  };
}

function column(ref: string): number {
  let n = 0;
  for (const ch of ref.replace(/\d+$/, '')) n = n * 26 + (ch.charCodeAt(0) - 64);
  return n;
}

/**
 * Reads cells of one sheet straight from the xlsx's XML (shared strings, inline strings, numbers),
 * without a full parse: for a header check or a small sheet read back. Rows come as arrays indexed
 * from 1, like exceljs's row.values; `rows` is null when the sheet is not in the workbook.
 */
export async function peekSheet(path: string, display: string, sheet: string, limits: ZipLimits, maxRows = Infinity): Promise<{ sheets: string[]; rows: unknown[][] | null; rowNumbers: number[]; zip: ZipSummary }> {
  const zip: ZipSummary = await inspectZip(path, display, limits);
  const text = async (name: string): Promise<string | null> => {
    const e = zip.entries.find((x) => x.name === name);
    return e ? (await readEntry(path, e)).toString('utf8') : null;
  };
  const wb = (await text('xl/workbook.xml')) ?? '';
  const sheets = [...wb.matchAll(/<sheet\b[^>]*\bname="([^"]*)"/g)].map((m) => decode(m[1]!));
  const rid = [...wb.matchAll(/<sheet\b[^>]*>/g)].map((m) => m[0]).find((tag) => decode(/\bname="([^"]*)"/.exec(tag)?.[1] ?? '') === sheet);
  const id = rid && /\br:id="([^"]+)"/.exec(rid)?.[1];
  if (!id) return { sheets, rows: null, rowNumbers: [], zip };
  const rels = (await text('xl/_rels/workbook.xml.rels')) ?? '';
  const relTag = [...rels.matchAll(/<Relationship\b[^>]*>/g)].map((m) => m[0]).find((t) => new RegExp(`\\bId="${id}"`).test(t));
  const target = relTag && /\bTarget="([^"]+)"/.exec(relTag)?.[1];
  if (!target) return { sheets, rows: null, rowNumbers: [], zip };
  const sheetName = target.startsWith('/') ? target.slice(1) : `xl/${target}`;
  const sheetEntry = zip.entries.find((x) => x.name === sheetName);
  // Only as many rows as asked for are inflated: a header check stops after the first </row>,
  // and reads the shared strings only as far as the last one that row uses.
  const xml = sheetEntry ? await readEntryTextUntil(path, sheetEntry, counter('</row>', maxRows)) : '';
  const needed = Math.max(-1, ...[...xml.matchAll(/<c\b[^>]*\bt="s"[^>]*>\s*<v>(\d+)<\/v>/g)].map((m) => Number(m[1])));
  const ssEntry = zip.entries.find((x) => x.name === 'xl/sharedStrings.xml');
  const sharedXml = ssEntry && needed >= 0 ? await readEntryTextUntil(path, ssEntry, counter('</si>', needed + 1)) : '';
  const shared = [...sharedXml.matchAll(/<si>([\s\S]*?)<\/si>/g)].map((m) => [...m[1]!.matchAll(/<t[^>]*>([\s\S]*?)<\/t>/g)].map((t) => decode(t[1]!)).join(''));
  const rows: unknown[][] = [];
  const rowNumbers: number[] = [];
  for (const rm of xml.matchAll(/<row\b([^>]*)>([\s\S]*?)<\/row>/g)) {
    if (rows.length >= maxRows) break;
    const row: unknown[] = [];
    rowNumbers.push(Number(/\br="(\d+)"/.exec(rm[1]!)?.[1] ?? rows.length + 1));
    for (const cm of rm[2]!.matchAll(/<c\b([^>]*?)(?:\/>|>([\s\S]*?)<\/c>)/g)) {
      const attrs = cm[1]!;
      const body = cm[2] ?? '';
      const ref = /\br="([A-Z]+\d+)"/.exec(attrs)?.[1];
      if (!ref) continue;
      const t = /\bt="([^"]+)"/.exec(attrs)?.[1];
      const v = /<v>([\s\S]*?)<\/v>/.exec(body)?.[1];
      let value: unknown = null;
      if (t === 's' && v !== undefined) value = shared[Number(v)] ?? null;
      else if (t === 'inlineStr') value = [...body.matchAll(/<t[^>]*>([\s\S]*?)<\/t>/g)].map((x) => decode(x[1]!)).join('');
      else if ((t === 'str' || t === 'e') && v !== undefined) value = decode(v);
      else if (t === 'b' && v !== undefined) value = v === '1';
      else if (v !== undefined) value = Number(v);
      row[column(ref)] = value;
    }
    rows.push(row);
  }
  return { sheets, rows, rowNumbers, zip };
}

/**
 * The vital check's structural part: an intact xlsx (inspectZip), the required sheet is there and
 * its header row holds the required columns. Same messages as the full reader, so a user sees one wording.
 */
export async function checkHeader(path: string, spec: SourceSpec, limits: ZipLimits): Promise<ZipSummary> {
  const file = spec.file;
  const got = await peekSheet(path, file, spec.sheet, limits, 1);
  if (!got.rows) {
    throw new BottleneckError('BN_ERR_INPUT_SHEET_MISSING', `${file}: sheet "${spec.sheet}" is missing (sheets found: ${got.sheets.map((s) => `"${s}"`).join(', ') || 'none'})`, { location: { file, sheet: spec.sheet } });
  }
  const header = got.rows[0];
  const headerRow = got.rowNumbers[0] ?? 1;
  if (!header) throw new BottleneckError('BN_ERR_INPUT_EMPTY', `${file}, sheet "${spec.sheet}" is empty: no header row`, { location: { file, sheet: spec.sheet } });
  const names = header.map((h) => (h === null || h === undefined ? '' : String(h).trim()));
  const have = new Set(names.filter(Boolean).map((h) => h.toLowerCase()));
  const missing = spec.columns.filter((c) => !have.has(c.name.toLowerCase())).map((c) => c.name);
  if (missing.length) {
    throw new BottleneckError('BN_ERR_INPUT_COLUMN_MISSING', `${file}, sheet "${spec.sheet}", header row ${headerRow}: required column${missing.length > 1 ? 's' : ''} ${missing.map((m) => `"${m}"`).join(', ')} missing (found: ${names.filter(Boolean).map((h) => `"${h}"`).join(', ')})`, { location: { file, sheet: spec.sheet, column: missing[0]!, row: headerRow } });
  }
  return got.zip;
}
