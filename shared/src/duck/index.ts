import { createRequire } from 'node:module';
import type { DuckDBAppender, DuckDBConnection, DuckDBInstance, DuckDBValue } from '@duckdb/node-api';
import type { Converted, RowSink } from '../excel/read.js';
import type { ColumnSpec } from '../sources.js';
import { timed } from '../profile.js';
import { quoteIdent, quoteLiteral, text } from './sql.js';

export { loadSql, quoteIdent, quoteLiteral, text } from './sql.js';

export type { Json } from './sql.js';
import type { Json } from './sql.js';
export type Params = Record<string, DuckDBValue> | DuckDBValue[];

/**
 * @duckdb/node-api is CommonJS (about 50 modules re-exported by its index): `import()` has Node's
 * ESM loader scan every one of them for its export names (cjs-module-lexer), which measured 225 ms
 * of CPU against 90 ms for `require` on this machine. The build bundles it into one file beside
 * this module (scripts/bundle-duckdb.mjs: 50 ms); without that bundle (tests from src/, an install
 * without dev dependencies) it comes from node_modules. Loaded on first use, never at import.
 */
function loadDuckdbApi(): typeof import('@duckdb/node-api') {
  const require = createRequire(import.meta.url);
  try {
    return require('./node-api.cjs') as typeof import('@duckdb/node-api');
  } catch (e) {
    if ((e as { code?: string }).code !== 'MODULE_NOT_FOUND') throw e;
  }
  return require('@duckdb/node-api') as typeof import('@duckdb/node-api');
}

/** With `returnFreedMemory`: a statement that frees more than this at once hands it back to the system. */
export const FREED_MEMORY_FLUSH_ABOVE = '2MB';

/**
 * DuckDB's options for `threads` and a memory limit; with a limit, what does not fit spills to
 * `spillDir` (the context's scratch folder). The one mapping the wiring and an early start share.
 */
export function duckdbOptions(
  s: { threads?: number; memoryLimit?: string; returnFreedMemory?: boolean },
  spillDir?: string,
): Record<string, string> {
  return {
    threads: String(s.threads ?? 2),
    ...(s.memoryLimit ? { memory_limit: s.memoryLimit, ...(spillDir ? { temp_directory: spillDir } : {}) } : {}),
    // Freed memory handed back to the system after any statement that frees more than 2MB at once
    // (DuckDB's default: 512MB), asked for large months only: about 65 MiB less peak RSS at 20 times
    // the reference size. At '0MB' (every statement's frees) it cost a fifth of the run's wall time
    // in page faults refilling what was handed back (K = 20: 168,000 faults against 127,000 at 2MB,
    // 4.19 against 3.50 s; 212 against 226-233 MiB). The CLI also has the allocator hand back pages
    // unused for 100 ms (cli/src/tuning.ts).
    ...(s.returnFreedMemory ? { allocator_bulk_deallocation_flush_threshold: FREED_MEMORY_FLUSH_ABOVE } : {}),
  };
}

const sameOptions = (a: Record<string, string>, b: Record<string, string>) =>
  JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());

let early: { options: Record<string, string>; inst: Promise<DuckDBInstance> } | undefined;

/**
 * Loads DuckDB's API and starts creating the process's instance now, with `options` (but no
 * `temp_directory`: a Duck sets its own once it has its folder), so that the instance's start
 * runs on DuckDB's threads while the main thread does something else (`bottleneck run`: import
 * the asset graph). The first Duck whose options are these (`temp_directory` aside) takes it;
 * any other creates its own as before. Only a speed-up: an instance that failed to start is not
 * taken (the Duck creates one itself and meets the error there). Returns the instance being
 * created (for tests: the Duck that takes it answers on it).
 */
export function startDuckdbEarly(options: Record<string, string>): Promise<DuckDBInstance> {
  const { temp_directory: _ignored, ...rest } = options;
  const inst = timed('duckdb: load @duckdb/node-api (early)', () => Promise.resolve(loadDuckdbApi())).then((m) =>
    timed('duckdb: create the instance (early)', () => m.DuckDBInstance.create(':memory:', rest)),
  );
  inst.catch(() => undefined);
  early = { options: rest, inst };
  return inst;
}

/** The early instance if it was started with `options` (`temp_directory` aside, then set on it), once. */
async function takeEarly(options: Record<string, string>): Promise<DuckDBInstance | undefined> {
  const { temp_directory: dir, ...rest } = options;
  if (!early || !sameOptions(early.options, rest)) return undefined;
  const e = early;
  early = undefined;
  const inst = await e.inst.catch(() => undefined);
  if (inst && dir !== undefined) {
    const conn = await inst.connect();
    try {
      await conn.run(`SET temp_directory = ${quoteLiteral(dir)}`);
    } finally {
      conn.closeSync();
    }
  }
  return inst;
}

/**
 * One in-memory DuckDB instance per process, created lazily (and early, with `warm()`, so that
 * its start overlaps reading the workbooks). Stages never share tables: each opens its own
 * connection and passes data on as Parquet objects in the store.
 */
export class Duck {
  private inst?: Promise<DuckDBInstance>;

  /**
   * `options`: DuckDB's (`duckdbOptions`). `appendFlushRows`: the appenders of `Db.appendTo` hand
   * their rows to the table every that many rows, instead of DuckDB's 204,800 (see `TableAppender`).
   */
  constructor(
    private readonly options: Record<string, string> = { threads: '2' },
    private readonly tuning: { appendFlushRows?: number } = {},
  ) {}

  warm(): void {
    void this.instance().catch(() => undefined);
  }

  private instance(): Promise<DuckDBInstance> {
    this.inst ??= takeEarly(this.options).then(
      (taken) =>
        taken ??
        timed('duckdb: load @duckdb/node-api', () => Promise.resolve(loadDuckdbApi())).then((m) =>
          timed('duckdb: create the instance', () => m.DuckDBInstance.create(':memory:', this.options)),
        ),
    );
    return this.inst;
  }

  /** A new connection; the caller closes it (`db.close()`). */
  async connect(): Promise<Db> {
    return new Db(await (await this.instance()).connect(), this.tuning.appendFlushRows);
  }

  /** Runs `fn` with a fresh connection, closed afterwards (its temp tables go with it). */
  async with<T>(fn: (db: Db) => Promise<T>): Promise<T> {
    const conn = await (await this.instance()).connect();
    try {
      return await fn(new Db(conn, this.tuning.appendFlushRows));
    } finally {
      conn.closeSync();
    }
  }

  /**
   * Sets the instance's threads and memory limit (instance-wide: what runs from now on, on every
   * connection), each only when given; returns both as DuckDB then reports them. What does not fit
   * under a lower limit is spilled to the spill folder (`temp_directory`), tables included.
   */
  async configure(s: { threads?: number; memoryLimit?: string }): Promise<{ threads: number; memoryLimit: string }> {
    return this.with(async (db) => {
      if (s.threads !== undefined) await db.run(`SET GLOBAL threads = ${Math.max(1, Math.trunc(s.threads))}`);
      if (s.memoryLimit !== undefined) await db.run(`SET GLOBAL memory_limit = ${quoteLiteral(s.memoryLimit)}`);
      const r = await db.one(
        "SELECT current_setting('threads')::INTEGER AS threads, current_setting('memory_limit') AS memory_limit",
      );
      return { threads: Number(r.threads), memoryLimit: text(r.memory_limit) };
    });
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
  /** `appendFlushRows`: see `Duck`. */
  constructor(
    readonly conn: DuckDBConnection,
    private readonly appendFlushRows?: number,
  ) {}

  close(): void {
    this.conn.closeSync();
  }

  async run(sql: string, params?: Params): Promise<void> {
    await this.conn.run(sql, params);
  }

  /** Rows as JSON-safe objects: DECIMAL and BIGINT come back as exact strings, never floats. */
  async rows(sql: string, params?: Params): Promise<Record<string, Json>[]> {
    const r = await this.conn.runAndReadAll(sql, params);
    return r.getRowObjectsJson();
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

  /**
   * The columns of a table or view as the connection's search path finds it (a temp one first, then
   * its default schema), in order. `DESCRIBE` binds that one table: `duckdb_columns()` lists every
   * column of every schema, system views included (each view bound to list its columns), which cost
   * 10-40 ms per table persisted in a run of the reference month, against 1-2 ms (issue 18).
   */
  async columns(table: string): Promise<{ name: string; type: string }[]> {
    const r = await this.rows(`DESCRIBE ${quoteIdent(table)}`);
    return r.map((x) => ({ name: text(x.column_name), type: text(x.column_type) }));
  }

  /**
   * Creates the temp table `table` (or, given `schema`, the table `schema.table`, which every
   * connection sees) with the given columns plus `_row INTEGER`, and returns a sink
   * that appends rows to it with DuckDB's appender (no intermediate file). Values come as the
   * reader converts them: whole numbers, doubles, and text; exact decimals and timestamps as text,
   * which DuckDB casts to the column's DECIMAL or TIMESTAMP exactly. Close it to flush.
   *
   * @example
   * const sink = await db.appendTo('raw_erp', SOURCES.erp.columns);
   * try { await readSheetInto(path, SOURCES.erp, limits, sink); } finally { sink.close(); }
   */
  async appendTo(table: string, columns: readonly ColumnSpec[], schema?: string): Promise<TableAppender> {
    const cols = [...columns.map((c) => `${quoteIdent(c.name)} ${c.sql}`), '"_row" INTEGER'].join(', ');
    if (schema === undefined) await this.run(`CREATE TEMP TABLE ${quoteIdent(table)} (${cols})`);
    else await this.run(`CREATE TABLE ${quoteIdent(schema)}.${quoteIdent(table)} (${cols})`);
    return new TableAppender(await this.conn.createAppender(table, schema ?? null), columns, this.appendFlushRows);
  }

  /** Registers a Parquet file as a view (in the connection's default schema). */
  async attachParquet(view: string, path: string): Promise<void> {
    await this.run(`CREATE OR REPLACE VIEW ${quoteIdent(view)} AS SELECT * FROM read_parquet(${quoteLiteral(path)})`);
  }

  async toParquet(table: string, path: string): Promise<void> {
    await this.run(`COPY ${quoteIdent(table)} TO ${quoteLiteral(path)} (FORMAT parquet, COMPRESSION zstd)`);
  }
}

const INT32_MAX = 2 ** 31 - 1;

/**
 * Rows of a sheet into a table, value by value through DuckDB's appender. DuckDB's appender holds
 * up to 204,800 rows in a buffer of its own before it hands them to the table, and that buffer is
 * outside DuckDB's memory limit: for a sheet of a million web rows (long descriptions), some
 * hundred MiB beside the table. With `flushRows`, the rows go to the table every that many rows
 * (the table's rows and their order are the same; each flush is one more commit).
 */
export class TableAppender implements RowSink {
  private readonly kinds: Uint8Array;
  private pending = 0;

  constructor(
    private readonly appender: DuckDBAppender,
    columns: readonly ColumnSpec[],
    private readonly flushRows = 0,
  ) {
    // 0 whole number, 1 double, 2 text (text, exact decimals and timestamps).
    this.kinds = Uint8Array.from(columns, (c) => (c.type === 'int' ? 0 : c.type === 'double' ? 1 : 2));
  }

  row(values: readonly Converted[], row: number): void {
    const a = this.appender;
    const kinds = this.kinds;
    for (let i = 0; i < kinds.length; i++) {
      const v = values[i];
      if (v === null || v === undefined) a.appendNull();
      else if (kinds[i] === 2) a.appendVarchar(v as string);
      else if (kinds[i] === 1) a.appendDouble(v as number);
      // appendInteger is the cheap call; the BIGINT column takes it, larger values go as BigInt.
      else if ((v as number) <= INT32_MAX && (v as number) >= -INT32_MAX) a.appendInteger(v as number);
      else a.appendBigInt(BigInt(v));
    }
    a.appendInteger(row);
    a.endRow();
    if (this.flushRows > 0 && ++this.pending >= this.flushRows) {
      a.flushSync();
      this.pending = 0;
    }
  }

  /** Flushes the rows into the table and releases the appender. */
  close(): void {
    this.appender.closeSync();
  }
}
