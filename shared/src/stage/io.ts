import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import type { AssetDefinition, AssetMetadata, LoadedInput, RunInfo } from '../assets/define.js';
import type { Db, Duck } from '../duck/index.js';
import { loadSql, quoteIdent, quoteLiteral } from '../duck/sql.js';
import { createError } from '../errors/index.js';
import type { Materialization } from '../events/index.js';
import { layout } from '../keys.js';
import { timed } from '../profile.js';
import type { LocalFile, ObjectStore } from '../ports/object-store.js';

/**
 * Where a stage run keeps its tables: a DuckDB schema, and the connections opened in it. Every
 * connection of the scope sees the same tables by their asset keys.
 */
export class DuckScope {
  private readonly open: Db[] = [];

  constructor(
    private readonly duck: Duck,
    readonly schema: string,
  ) {}

  /** A new connection whose default schema is the scope's (closed by `close`). */
  async connect(): Promise<Db> {
    const db = await this.duck.connect();
    this.open.push(db);
    await db.run(`SET schema = '${this.schema.replace(/'/g, "''")}'`);
    return db;
  }

  async closeConnections(): Promise<void> {
    for (const db of this.open.splice(0)) db.close();
  }
}

/** What an IO manager gets to persist: the asset, what compute returned, and the scope it ran in. */
export interface PersistRequest {
  asset: AssetDefinition;
  run: RunInfo;
  /** For tables: a connection of the scope. */
  db?: Db;
  /** For files: the local file. */
  path?: string;
  metadata: AssetMetadata;
  workDir: string;
}

/** Where a persisted asset is, its data version, its size, and where its published form is staged (a table's CSV). */
export interface Persisted {
  location: string;
  dataVersion: string;
  bytes?: number;
  published?: string;
}

/**
 * The seam between the stage runner and storage (Dagster's IO manager): how an upstream asset is
 * loaded into a stage run, and how a computed one is persisted and described.
 */
export interface AssetIO {
  /** Opens the DuckDB scope of one stage run. */
  openScope(run: RunInfo): Promise<DuckScope>;
  /** Ends the stage run's scope: its tables, views and local copies go. */
  closeScope(scope: DuckScope): Promise<void>;
  /** Makes an upstream asset available: a view named by its key (tables), or a local file. */
  load(key: string, m: Materialization, scope: DuckScope): Promise<LoadedInput>;
  /** Persists a computed table or file and returns where it is and its data version. */
  persist(r: PersistRequest): Promise<Persisted>;
  /**
   * A stage of this process hashed the object at `location`, read at `etag` (a source's data
   * version): a later load of it need not hash it again while its ETag holds.
   */
  observed?(location: string, dataVersion: string, etag: string): void;
}

/**
 * The IO manager of the services (and of embedded runs that keep every asset): each table is
 * written as Parquet under staging/<partition>/<run-id>/, each file stored there as is, and the
 * stage that needs one gets a local copy (the folder store hands out the file itself). The data
 * version is the sha256 of the object. A table published as CSV is exported beside it.
 */
export class StoreIO implements AssetIO {
  private readonly locals = new Map<DuckScope, LocalFile[]>();
  /** What this process persisted or hashed: location -> data version and ETag. A stage of the same process that loads it need not hash it again. */
  private readonly written = new Map<string, { sha256: string; etag: string }>();

  constructor(
    private readonly store: ObjectStore,
    private readonly duck: Duck,
    private readonly exportCsv: (db: Db, sql: string, path: string) => Promise<unknown>,
  ) {}

  async openScope(): Promise<DuckScope> {
    const schema = `stage_${randomBytes(6).toString('hex')}`;
    await this.duck.with((db) => db.run(`CREATE SCHEMA ${quoteIdent(schema)}`));
    const scope = new DuckScope(this.duck, schema);
    this.locals.set(scope, []);
    return scope;
  }

  async closeScope(scope: DuckScope): Promise<void> {
    await scope.closeConnections();
    await this.duck
      .with((db) => db.run(`DROP SCHEMA IF EXISTS ${quoteIdent(scope.schema)} CASCADE`))
      .catch(() => undefined);
    for (const f of this.locals.get(scope) ?? []) await f.release().catch(() => undefined);
    this.locals.delete(scope);
  }

  async load(key: string, m: Materialization, scope: DuckScope): Promise<LoadedInput> {
    const local = await this.store.getToFile(m.location);
    this.locals.get(scope)?.push(local);
    // The object must be the version the event names: not one written over it since, nor a stranger's.
    // What this process wrote, still with the ETag it had then, is known without reading it again.
    const mine = this.written.get(m.location);
    const unchanged =
      mine !== undefined && mine.sha256 === m.dataVersion && (await this.store.head(m.location))?.etag === mine.etag;
    const sha = unchanged ? m.dataVersion : await sha256File(local.path);
    if (sha !== m.dataVersion) {
      throw createError(
        'BN_ERR_EVENT_INVALID',
        `${key} at ${m.location} is not the version the event names (sha256 ${sha.slice(0, 12)}..., expected ${m.dataVersion.slice(0, 12)}...): refused`,
        { asset: key },
      );
    }
    // A table was persisted as Parquet (persist below): it becomes a view named by its key.
    if (m.location.endsWith('.parquet')) {
      const db = await scope.connect();
      await db.attachParquet(key, local.path);
      return { materialization: m };
    }
    return { materialization: m, path: local.path };
  }

  /**
   * Another connection on `db`'s default schema, if `table` is a table there (not a temp one, which
   * only `db` sees); null otherwise.
   */
  private async secondConnection(db: Db, table: string): Promise<Db | null> {
    const r = await db.one(
      `SELECT current_schema() AS s, (SELECT count(*)::INTEGER FROM duckdb_tables() WHERE schema_name = current_schema() AND table_name = $t AND NOT temporary) AS n`,
      { t: table },
    );
    if (Number(r.n) !== 1 || typeof r.s !== 'string') return null;
    const second = await this.duck.connect();
    try {
      await second.run(`SET schema = ${quoteLiteral(r.s)}`);
    } catch (e) {
      second.close();
      throw e;
    }
    return second;
  }

  observed(location: string, dataVersion: string, etag: string): void {
    this.written.set(location, { sha256: dataVersion, etag });
  }

  async persist(r: PersistRequest): Promise<Persisted> {
    const { asset, run } = r;
    let path = r.path;
    let published: string | undefined;
    if (asset.kind === 'table') {
      if (!r.db) throw new TypeError(`persist ${asset.key}: a table needs its connection`);
      path = join(r.workDir, asset.file);
      const db = r.db;
      const parquet = path;
      const toParquet = (on: Db) => timed(`io: ${asset.key} to Parquet`, () => on.toParquet(asset.key, parquet));
      if (asset.publishAs && asset.publishSql) {
        const csv = join(r.workDir, asset.publishAs);
        const key = layout.staging(run.partition, run.runId, asset.publishAs);
        const sql = loadSqlOf(asset, asset.publishSql);
        const toCsv = async () => {
          await timed(`io: ${asset.key} to CSV`, () => this.exportCsv(db, sql, csv));
          return (await this.store.putFile(key, csv, { consume: true })).key;
        };
        // The Parquet on a second connection while the CSV is written and stored: two files of the
        // same table at once (both cores), each the same bytes as one after the other.
        const second = await this.secondConnection(db, asset.key);
        try {
          const [p, c] = await Promise.allSettled([toParquet(second ?? db), second ? toCsv() : Promise.resolve('')]);
          if (p.status === 'rejected') throw p.reason;
          if (c.status === 'rejected') throw c.reason;
          published = second ? c.value : await toCsv();
        } finally {
          second?.close();
        }
      } else await toParquet(db);
    }
    if (!path) throw new TypeError(`persist ${asset.key}: nothing to store`);
    // A table's Parquet is ours to give away; a file asset's file may still be read by the stage's checks.
    const put = await this.store.putFile(layout.staging(run.partition, run.runId, asset.file), path, {
      consume: asset.kind === 'table',
    });
    const head = await this.store.head(put.key);
    if (head) this.written.set(put.key, { sha256: put.sha256, etag: head.etag });
    return { location: put.key, dataVersion: put.sha256, bytes: put.bytes, ...(published ? { published } : {}) };
  }
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** The text of one of an asset's `.sql` files. */
export function loadSqlOf(asset: Pick<AssetDefinition, 'sqlDir' | 'key'>, name: string): string {
  return loadSql(new URL(`${name}.sql`, asset.sqlDir));
}
