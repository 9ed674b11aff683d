import { createReadStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { BottleneckError, type CellLocation } from '../errors/index.js';
import type { ColumnSpec, SourceSpec } from '../sources.js';
import { inspectZip, type ZipLimits } from './zip-guard.js';

/** What reading one workbook may cost at most. */
export interface ReadLimits extends ZipLimits {
  maxRows: number;
  maxColumns: number;
  maxCellChars: number;
  maxMillis: number;
}

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

export interface SheetData {
  /** One object per non-blank data row: the spec's columns (typed for JSON) plus `_row`, the Excel row number. */
  rows: Record<string, string | number | null>[];
  headerRow: number;
  blankRows: number;
  /** Header cells not in the spec: ignored, reported in metadata. */
  extraColumns: string[];
}

type ExcelCell = unknown;

function describeValue(v: unknown): string {
  const s = typeof v === 'string' ? JSON.stringify(v) : String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** The plain value of an exceljs cell: rich text, hyperlinks and formulas reduced to what they show. */
function plain(v: ExcelCell): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'object' || v instanceof Date) return v;
  const o = v as Record<string, unknown>;
  if (Array.isArray(o.richText)) return (o.richText as { text?: string }[]).map((r) => r.text ?? '').join('');
  if ('result' in o) return plain(o.result);
  if ('formula' in o || 'sharedFormula' in o) return null;
  if ('error' in o) return { error: o.error };
  if ('text' in o) return plain(o.text);
  return v;
}

function toDecimalString(n: number): string | null {
  if (!Number.isFinite(n)) return null;
  const fixed = n.toFixed(4);
  // A double that is a 4-decimal number but for binary noise (24.200000000000003) is that number.
  if (Math.abs(Number(fixed) - n) > 1e-9 * Math.max(1, Math.abs(n))) return null;
  return fixed.replace(/\.?0+$/, '') || '0';
}

/**
 * Converts one cell to the JSON value DuckDB will read for the column's type, or throws
 * BN_ERR_INPUT_BAD_VALUE naming the file, sheet, column and row.
 */
function convert(raw: ExcelCell, col: ColumnSpec, file: string, sheet: string, rowNumber: number, limits: ReadLimits): string | number | null {
  const v = plain(raw);
  if (v === null || v === '') return null;
  if (col.type === 'text' && typeof v === 'string' && v.length <= limits.maxCellChars) return v;
  if (col.type === 'int' && typeof v === 'number' && Number.isSafeInteger(v)) return v;
  const loc: CellLocation = { file, sheet, column: col.name, row: rowNumber };
  const where = `${file}, sheet "${sheet}", column "${col.name}", row ${rowNumber}`;
  const bad = (what: string) =>
    new BottleneckError('BN_ERR_INPUT_BAD_VALUE', `${where}: ${describeValue(v && typeof v === 'object' && 'error' in (v as object) ? (v as { error: unknown }).error : v)} ${what}. Fix the cell in the export and drop the file again.`, { location: loc });
  if (typeof v === 'object' && !(v instanceof Date)) throw bad('is an Excel error or an unsupported value');
  switch (col.type) {
    case 'text': {
      const s = v instanceof Date ? v.toISOString() : typeof v === 'number' ? String(v) : String(v);
      if (s.length > limits.maxCellChars) throw new BottleneckError('BN_ERR_INPUT_TOO_LARGE', `${where}: the cell holds ${s.length} characters, more than ${limits.maxCellChars}`, { location: loc });
      return s;
    }
    case 'int': {
      if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
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
      if (s === null) throw bad(typeof v === 'number' ? (Math.abs(v) >= 1e14 ? 'is too large for a price' : 'has more than 4 decimal places') : 'is not a number');
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
      else if (typeof v === 'number') d = new Date(Math.round((v - 25569) * 86_400_000));
      else if (typeof v === 'string') {
        const m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?)?Z?$/.exec(v.trim());
        if (m) {
          const [y = '0', mo = '1', da = '1', h = '0', mi = '0', se = '0'] = m.slice(1, 7) as (string | undefined)[];
          const t = Date.UTC(+y, +mo - 1, +da, +h, +mi, +se, Math.round(Number(m[7] ?? 0) * 1000));
          d = new Date(t);
          // Date.UTC rolls 2024-02-30 over to March: a date that does not exist is refused.
          if (d.getUTCFullYear() !== +y || d.getUTCMonth() !== +mo - 1 || d.getUTCDate() !== +da || d.getUTCHours() !== +h || d.getUTCMinutes() !== +mi || d.getUTCSeconds() !== +se) d = null;
        }
      }
      if (!d || Number.isNaN(d.getTime())) throw bad('is not a date');
      // Excel dates carry no zone: keep the wall-clock time as a naive TIMESTAMP.
      return d.toISOString().slice(0, 23).replace('T', ' ');
    }
  }
}

/**
 * Reads one sheet of an xlsx with exceljs's streaming reader, bounded by `limits` (size, zip
 * bomb, rows, columns, cell size, time), converting each cell to the column's type. Every error is
 * a BottleneckError naming the file, sheet, column and row; a hostile workbook is reported, never
 * fatal to the process.
 */
export async function readSheet(path: string, spec: SourceSpec, limits: ReadLimits = DEFAULT_READ_LIMITS): Promise<SheetData> {
  const rows: SheetData['rows'] = [];
  const summary = await scanSheet(path, spec, limits, (r) => { rows.push(r); });
  return { rows, headerRow: summary.headerRow, blankRows: summary.blankRows, extraColumns: summary.extraColumns };
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

type RowSink = (row: Record<string, string | number | null>) => void | Promise<void>;

/** The reader itself: validates and converts each data row and hands it to `onRow`. */
async function scanSheet(path: string, spec: SourceSpec, limits: ReadLimits, onRow: RowSink, verifiedSha256?: string): Promise<SheetSummary> {
  const file = spec.file;
  // Every part is checked (directory, sizes, bomb ratio, CRC) before exceljs sees a byte: a damaged
  // or hostile file is refused deterministically, and never half-parsed.
  // The directory (sizes, bomb ratio, entries filling the file) is always checked; the CRC of
  // every part too, unless these exact bytes (same sha256) already passed it upstream.
  const verify = verifiedSha256 === undefined || (await sha256File(path)) !== verifiedSha256;
  await inspectZip(path, file, limits, { verify });
  const { default: ExcelJS } = await import('exceljs');
  const input = createReadStream(path);
  const started = Date.now();
  const corrupt = (e: unknown) =>
    new BottleneckError('BN_ERR_INPUT_CORRUPT', `${file} cannot be read as an xlsx workbook (${(e as Error)?.message ?? String(e)}): export it again from Excel and drop it again`, { location: { file }, cause: e });
  // exceljs reports some zip errors on the input stream only: turn them into a rejection.
  let streamError: unknown;
  input.on('error', (e) => (streamError = e));
  const reader = new ExcelJS.stream.xlsx.WorkbookReader(input, {
    sharedStrings: 'cache', hyperlinks: 'ignore', styles: 'cache', worksheets: 'emit', entries: 'ignore',
  } as never);
  const seen: string[] = [];
  let result: SheetSummary | null = null;
  let timer: NodeJS.Timeout | undefined;
  // A parser that stalls on a damaged part would otherwise wait forever: the deadline rejects.
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timeout()), limits.maxMillis);
  });
  try {
    await Promise.race([deadline, iterate()]);
  } catch (e) {
    input.destroy();
    if (e instanceof BottleneckError) throw e;
    throw corrupt(e);
  } finally {
    clearTimeout(timer);
  }
  if (streamError) throw corrupt(streamError);
  if (!result) {
    throw new BottleneckError('BN_ERR_INPUT_SHEET_MISSING', `${file}: sheet "${spec.sheet}" is missing (sheets found: ${seen.map((s) => `"${s}"`).join(', ') || 'none'})`, { location: { file, sheet: spec.sheet } });
  }
  return result;

  async function iterate(): Promise<void> {
    for await (const ws of reader as AsyncIterable<AsyncIterable<{ number: number; values: unknown[] }> & { name: string }>) {
      const name = (ws as { name?: string }).name ?? '';
      seen.push(name);
      if (name !== spec.sheet || result) {
        for await (const _ of ws) if (Date.now() - started > limits.maxMillis) throw timeout();
        continue;
      }
      result = await readRows(ws, spec, limits, started);
    }
  }

  function timeout() {
    return new BottleneckError('BN_ERR_INPUT_TOO_LARGE', `${file}: reading took more than ${limits.maxMillis} ms (BN_MAX_READ_MS); the workbook is too large or hostile`, { location: { file } });
  }

  async function readRows(ws: AsyncIterable<{ number: number; values: unknown[] }>, s: SourceSpec, l: ReadLimits, t0: number): Promise<SheetSummary> {
    const sheet = s.sheet;
    let index: number[] | null = null;
    let headerRow = 0;
    let extra: string[] = [];
    let blank = 0;
    let count = 0;
    let rowCount = 0;
    for await (const row of ws) {
      if ((++count & 255) === 0 && Date.now() - t0 > l.maxMillis) throw timeout();
      const values = row.values;
      if (values.length - 1 > l.maxColumns) throw new BottleneckError('BN_ERR_INPUT_TOO_LARGE', `${file}, sheet "${sheet}", row ${row.number}: ${values.length - 1} columns, more than ${l.maxColumns}`, { location: { file, sheet, row: row.number } });
      if (!index) {
        const header = values.map((v) => { const p = plain(v); return typeof p === 'string' ? p.trim() : p === null ? '' : String(p); });
        const pos = new Map<string, number>();
        header.forEach((h, i) => { if (i > 0 && h && !pos.has(h.toLowerCase())) pos.set(h.toLowerCase(), i); });
        const missing = s.columns.filter((c) => !pos.has(c.name.toLowerCase())).map((c) => c.name);
        if (missing.length) {
          throw new BottleneckError('BN_ERR_INPUT_COLUMN_MISSING', `${file}, sheet "${sheet}", header row ${row.number}: required column${missing.length > 1 ? 's' : ''} ${missing.map((m) => `"${m}"`).join(', ')} missing (found: ${header.filter(Boolean).map((h) => `"${h}"`).join(', ')})`, { location: { file, sheet, column: missing[0]!, row: row.number } });
        }
        index = s.columns.map((c) => pos.get(c.name.toLowerCase())!);
        const known = new Set(s.columns.map((c) => c.name.toLowerCase()));
        extra = header.filter((h, i) => i > 0 && h && !known.has(h.toLowerCase()));
        headerRow = row.number;
        continue;
      }
      const out: Record<string, string | number | null> = {};
      let empty = true;
      for (let i = 0; i < s.columns.length; i++) {
        const col = s.columns[i]!;
        const v = convert(values[index[i]!], col, file, sheet, row.number, l);
        if (v !== null) empty = false;
        out[col.name] = v;
      }
      if (empty) { blank++; continue; }
      if (rowCount >= l.maxRows) throw new BottleneckError('BN_ERR_INPUT_TOO_LARGE', `${file}, sheet "${sheet}": more than ${l.maxRows} rows (BN_MAX_ROWS)`, { location: { file, sheet, row: row.number } });
      out._row = row.number;
      rowCount++;
      const pending = onRow(out);
      if (pending) await pending;
    }
    if (!index) throw new BottleneckError('BN_ERR_INPUT_EMPTY', `${file}, sheet "${sheet}" is empty: no header row`, { location: { file, sheet } });
    if (rowCount === 0) throw new BottleneckError('BN_ERR_INPUT_EMPTY', `${file}, sheet "${sheet}" has a header row but no data rows`, { location: { file, sheet, row: headerRow + 1 } });
    return { rowCount, headerRow, blankRows: blank, extraColumns: extra };
  }
}

/** What reading a sheet to a file reports back (the rows themselves stay in the file). */
export interface SheetSummary {
  /** Data rows read (blank rows not counted). */
  rowCount: number;
  headerRow: number;
  blankRows: number;
  extraColumns: string[];
}

/**
 * Reads a sheet (as readSheet) and writes its rows as newline-delimited JSON to `outPath`, for
 * DuckDB's read_json. Runs on a worker thread: only the summary crosses back.
 */
export async function readSheetToNdjson(path: string, spec: SourceSpec, limits: ReadLimits, outPath: string, verifiedSha256?: string): Promise<SheetSummary> {
  const fh = await open(outPath, 'w');
  let buf: string[] = [];
  let size = 0;
  const flush = async () => {
    const chunk = buf.join('');
    buf = [];
    size = 0;
    await fh.write(chunk);
  };
  try {
    // Rows stream to the file in ~1 MB writes: memory stays flat whatever the month's size.
    const keys = [...spec.columns.map((c) => c.name), '_row'].map((k) => `${JSON.stringify(k)}:`);
    const summary = await scanSheet(path, spec, limits, (r) => {
      let line = '{';
      let i = 0;
      for (const k in r) {
        const v = r[k];
        line += (i ? ',' : '') + keys[i] + (typeof v === 'number' ? String(v) : v === null ? 'null' : JSON.stringify(v));
        i++;
      }
      line += '}\n';
      buf.push(line);
      size += line.length;
      if (size > 1 << 20) return flush();
    }, verifiedSha256);
    await flush();
    return summary;
  } finally {
    await fh.close();
  }
}
