import { readFileSync } from 'node:fs';

/** A value of a result row, as the Db helpers give it. */
export type Json = string | number | boolean | null | Json[] | { [k: string]: Json };

/** A scalar of a result row as text (a DECIMAL comes as its exact digits); a list or struct is a mistake in the SQL. */
export function text(v: Json | undefined): string {
  if (v === undefined || (typeof v === 'object' && v !== null))
    throw new TypeError(`expected a scalar from DuckDB, got ${JSON.stringify(v)}`);
  return String(v);
}

/** Quotes an identifier for DuckDB SQL: the only way a name is ever interpolated. */
export function quoteIdent(name: string): string {
  if (name.includes('\0')) throw new Error('identifier contains NUL');
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Quotes a string literal, for the few places DuckDB takes no parameter (COPY ... TO 'path').
 * Values in queries are always bound as parameters instead.
 */
export function quoteLiteral(value: string): string {
  if (value.includes('\0')) throw new Error('literal contains NUL');
  return `'${value.replace(/'/g, "''")}'`;
}

const cache = new Map<string, string>();

/**
 * Reads a `.sql` file kept next to its asset.
 *
 * @example const sql = loadSql(new URL('./create_erp_clean.sql', import.meta.url));
 */
export function loadSql(url: URL): string {
  const key = url.href;
  let s = cache.get(key);
  if (s === undefined) {
    s = readFileSync(url, 'utf8');
    cache.set(key, s);
  }
  return s;
}
