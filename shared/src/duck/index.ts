import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DuckDBConnection, DuckDBInstance, DuckDBValue } from '@duckdb/node-api';
import type { ColumnSpec } from '../sources.js';
import { quoteIdent, quoteLiteral } from './sql.js';

export { loadSql, quoteIdent, quoteLiteral } from './sql.js';

export type Json = string | number | boolean | null | Json[] | { [k: string]: Json };
export type Params = Record<string, DuckDBValue> | DuckDBValue[];

/**
 * One in-memory DuckDB instance per process, created lazily (and early, with `warm()`, so that
 * its start overlaps reading the workbooks). Stages never share tables: each opens its own
 * connection and passes data on as Parquet objects in the store.
 */
export class Duck {
  private inst?: Promise<DuckDBInstance>;

  constructor(private readonly options: Record<string, string> = { threads: '2' }) {}

  warm(): void {
    void this.instance().catch(() => undefined);
  }

  private instance(): Promise<DuckDBInstance> {
    this.inst ??= import('@duckdb/node-api').then((m) => m.DuckDBInstance.create(':memory:', this.options));
    return this.inst;
  }

  /** A new connection; the caller closes it (`db.close()`). */
  async connect(): Promise<Db> {
    return new Db(await (await this.instance()).connect());
  }

  /** Runs `fn` with a fresh connection, closed afterwards (its temp tables go with it). */
  async with<T>(fn: (db: Db) => Promise<T>): Promise<T> {
    const conn = await (await this.instance()).connect();
    try {
      return await fn(new Db(conn));
    } finally {
      conn.closeSync();
    }
  }

  async close(): Promise<void> {
    if (!this.inst) return;
    const inst = await this.inst.catch(() => undefined);
    inst?.closeSync();
    this.inst = undefined;
  }
}

/** A connection with the few operations stages need. */
export class Db {
  constructor(readonly conn: DuckDBConnection) {}

  close(): void {
    this.conn.closeSync();
  }

  async run(sql: string, params?: Params): Promise<void> {
    await this.conn.run(sql, params as never);
  }

  /** Rows as JSON-safe objects: DECIMAL and BIGINT come back as exact strings, never floats. */
  async rows(sql: string, params?: Params): Promise<Record<string, Json>[]> {
    const r = await this.conn.runAndReadAll(sql, params as never);
    return r.getRowObjectsJson() as Record<string, Json>[];
  }

  async one(sql: string, params?: Params): Promise<Record<string, Json>> {
    const rows = await this.rows(sql, params);
    if (!rows[0]) throw new Error(`query returned no row: ${sql.slice(0, 80)}`);
    return rows[0];
  }

  async count(table: string): Promise<number> {
    const r = await this.one(`SELECT count(*)::INTEGER AS n FROM ${quoteIdent(table)}`);
    return Number(r.n);
  }

  /** The columns of a table or view of the connection's default schema (or a temp one), in order. */
  async columns(table: string): Promise<{ name: string; type: string }[]> {
    const r = await this.rows(`SELECT column_name AS name, data_type AS type FROM duckdb_columns() WHERE table_name = $t AND (schema_name = current_schema() OR database_name = 'temp') ORDER BY column_index`, { t: table });
    return r.map((x) => ({ name: String(x.name), type: String(x.type) }));
  }

  /** Loads newline-delimited JSON rows (from readSheetToNdjson) into a temp table with the given column types. */
  async loadNdjson(table: string, columns: readonly ColumnSpec[], path: string): Promise<void> {
    const cols = [...columns.map((c) => `${quoteIdent(c.name)}: ${quoteLiteral(c.sql)}`), `"_row": 'INTEGER'`].join(', ');
    await this.run(`CREATE TEMP TABLE ${quoteIdent(table)} AS SELECT * FROM read_json($path, format = 'newline_delimited', columns = {${cols}})`, { path });
  }

  /** Loads rows (objects keyed by column name, plus `_row`) into a temp table, through a file in `workDir`. */
  async loadRows(table: string, columns: readonly ColumnSpec[], rows: readonly Record<string, unknown>[], workDir: string): Promise<void> {
    const path = join(workDir, `${table}.ndjson`);
    await writeFile(path, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    await this.loadNdjson(table, columns, path);
  }

  /** Registers a Parquet file as a view (in the connection's default schema). */
  async attachParquet(view: string, path: string): Promise<void> {
    await this.run(`CREATE OR REPLACE VIEW ${quoteIdent(view)} AS SELECT * FROM read_parquet(${quoteLiteral(path)})`);
  }

  async toParquet(table: string, path: string): Promise<void> {
    await this.run(`COPY ${quoteIdent(table)} TO ${quoteLiteral(path)} (FORMAT parquet, COMPRESSION zstd)`);
  }
}
