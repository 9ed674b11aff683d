import { writeFile } from 'node:fs/promises';
import { toCsv, type CsvColumn, type CsvKind } from '../csv/write.js';
import type { Db } from './index.js';

function kindOf(type: string): CsvKind {
  if (/^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|DOUBLE|DECIMAL)/.test(type)) return 'number';
  if (type === 'BOOLEAN') return 'boolean';
  return 'text';
}

function format(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : null;
  return String(v);
}

/**
 * Writes the result of `sql` as deterministic CSV: the query fixes the order; DECIMAL keeps its
 * scale (24.20), doubles print in their shortest exact form, text is neutralised against formula
 * injection. Returns the row count and the schema.
 */
export async function exportCsv(db: Db, sql: string, path: string): Promise<{ rowCount: number; columns: { name: string; type: string }[] }> {
  const r = await db.conn.runAndReadAll(sql);
  const names = r.columnNames();
  const types = r.columnTypes().map(String);
  const columns: CsvColumn[] = names.map((name, i) => ({ name, kind: kindOf(types[i]!) }));
  const rows = (r.getRowsJson() as unknown[][]).map((row) => row.map(format));
  await writeFile(path, toCsv(columns, rows));
  return { rowCount: rows.length, columns: names.map((name, i) => ({ name, type: types[i]! })) };
}
