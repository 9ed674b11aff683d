import { availableParallelism, loadavg } from 'node:os';
import type { Db, Duck } from '../duck/index.js';
import { quoteIdent } from '../duck/sql.js';
import { readSheetChecked, replayBatch, type ReadLimits, type SheetSummary, type ZipSummary } from '../excel/read.js';
import { timed } from '../profile.js';
import type { SourceSpec } from '../sources.js';
import type { Prefetch } from './prefetch.js';

/** The schema of the kept tables: not a stage run's, so they outlive ingest's scope. */
const SCHEMA = 'read_once';

/** What a whole read tells the vital check: what checkHeader would have. */
export interface WholeRead {
  zip: ZipSummary;
  sheetRead: string;
}

/**
 * Each workbook parsed once per in-process run (`bottleneck run`, `demo`). Ingest's vital check
 * reads the whole sheet, since a whole read checks all it checks (zip, sheet, header, every part's
 * CRC), into a DuckDB table that outlives the stage; clean takes that table instead of reading the
 * workbook again. Kept per run, file and data version (the content's sha256), so clean takes only
 * rows of the very bytes ingest checked. A whole read that fails, whatever the reason, keeps
 * nothing: the vital check then runs as the services run it (header and CRC, same result and
 * message), and clean reads the file and meets its own error as before. The services never have
 * one (ingest and clean are separate processes).
 *
 * @example
 * const whole = await readOnce.keep(runId, SOURCES.web, dataVersion, path, limits); // ingest's check
 * const kept = await readOnce.take(runId, SOURCES.web, dataVersion, db, 'raw_web'); // clean, or null
 * // ... clean's SQL reads raw_web, then: await kept?.release();
 */
export class ReadOnce {
  private readonly kept = new Map<string, { table: string; sheet: SheetSummary }>();
  private schema?: Promise<void>;
  private seq = 0;

  /** `prefetch`: the workbooks read on a worker from the process's start; a read it did of the same bytes with the same limits is taken instead of reading again. */
  constructor(
    private readonly duck: Duck,
    private readonly prefetch?: Prefetch,
  ) {}

  /** Reads the whole sheet into a kept table; what the vital check needs, or null (nothing kept) when the read failed. */
  async keep(
    runId: string,
    spec: SourceSpec,
    dataVersion: string,
    path: string,
    limits: ReadLimits,
  ): Promise<WholeRead | null> {
    this.schema ??= this.duck.with((db) => db.run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(SCHEMA)}`));
    await this.schema;
    const table = `sheet_${++this.seq}`;
    const db = await this.duck.connect();
    try {
      const sink = await db.appendTo(table, spec.columns, SCHEMA);
      let read: Awaited<ReturnType<typeof readSheetChecked>>;
      try {
        const pre = await this.prefetch?.claim(spec.file, dataVersion, JSON.stringify(limits));
        read = pre
          ? await timed(`read once: ${spec.file} whole, from the prefetch`, async () => {
              for await (const batch of pre.batches) replayBatch(batch, sink);
              const r = await pre.result();
              if (!r) throw new Error(`the prefetch of ${spec.file} failed`);
              return r;
            })
          : await timed(`read once: ${spec.file} whole`, () =>
              readSheetChecked(path, spec, limits, sink, { split: coreToSpare() }),
            );
      } finally {
        sink.close();
      }
      this.kept.set(keyOf(runId, spec, dataVersion), { table, sheet: read.sheet });
      return { zip: read.zip, sheetRead: read.sheet.sheetRead };
    } catch {
      await db.run(`DROP TABLE IF EXISTS ${quoteIdent(SCHEMA)}.${quoteIdent(table)}`).catch(() => undefined);
      return null;
    } finally {
      db.close();
    }
  }

  /**
   * Makes the kept rows of this run's `spec.file` at `dataVersion` the temp view `view` of `db`
   * (what clean's own read would have made a temp table: no copy) and forgets them; null when none
   * were kept. `release` drops them once what reads the view has run.
   */
  async take(
    runId: string,
    spec: SourceSpec,
    dataVersion: string,
    db: Db,
    view: string,
  ): Promise<{ sheet: SheetSummary; release: () => Promise<void> } | null> {
    const key = keyOf(runId, spec, dataVersion);
    const kept = this.kept.get(key);
    if (!kept) return null;
    this.kept.delete(key);
    const from = `${quoteIdent(SCHEMA)}.${quoteIdent(kept.table)}`;
    const release = async () => {
      await db.run(`DROP VIEW IF EXISTS ${quoteIdent(view)}`).catch(() => undefined);
      await this.duck.with((d) => d.run(`DROP TABLE IF EXISTS ${from}`)).catch(() => undefined);
    };
    try {
      await db.run(`CREATE TEMP VIEW ${quoteIdent(view)} AS SELECT * FROM ${from}`);
    } catch (e) {
      await release();
      throw e;
    }
    return { sheet: kept.sheet, release };
  }
}

/**
 * Whether a large sheet is worth a second thread (excel/split.ts): only when the machine has a core
 * to spare, the 1-minute load average below the number of cores. The worker costs CPU time of its
 * own (its start, the whole part inflated, its rows packed: 0.3-0.7 s more at K = 20); on a
 * machine busy with other work it competes for the cores instead of using an idle one (K = 20 at
 * load 8 on 2 cores: 7.2 s of wall time split, 6.1 s not). The rows are the same either way.
 */
export function coreToSpare(load = loadavg()[0] ?? 0, cores = availableParallelism()): boolean {
  return cores > 1 && load < cores;
}

function keyOf(runId: string, spec: SourceSpec, dataVersion: string): string {
  return `${runId}\n${spec.file}\n${dataVersion}`;
}
