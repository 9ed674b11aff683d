import { join } from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import {
  INPUT_NAMES, SOURCES, carry, makeEvent, assetErrorBoundary, type CheckResult, type InputName, type Materialization, type PipelineEvent,
} from '@bottleneck/shared';
import { loadSql, type Db, type Json } from '@bottleneck/shared/duck/index';
import { readSheetInto, replayBatch, type RowBatch, type SheetSummary } from '@bottleneck/shared/excel/read';
import type { StageContext, StageHandler } from '@bottleneck/shared/stage/context';
import { checkResult, expectationResult, gate } from '@bottleneck/shared/stage/checks';
import { materialize } from '@bottleneck/shared/stage/materialize';
import { timed } from '@bottleneck/shared/profile';

const READER = import.meta.resolve('@bottleneck/shared/excel/read');

const sql = (name: string) => loadSql(new URL(`./assets/${name}.sql`, import.meta.url));
const list = (v: Json | undefined): Json[] => (Array.isArray(v) ? v : []);

/** Checks of one cleaned asset, computed from the data by its check_<asset>.sql. */
async function assetChecks(db: Db, name: InputName): Promise<CheckResult[]> {
  const asset = `${name}_clean`;
  const r = await db.one(sql(`check_${asset}`));
  switch (name) {
    case 'erp': {
      const dup = list(r.duplicate_ids), negP = list(r.negative_price_ids), negS = list(r.negative_stock_ids);
      return [
        checkResult(asset, 'product_id_not_null', r.null_ids === 0, { nullCount: r.null_ids }),
        checkResult(asset, 'product_id_unique', dup.length === 0, dup.length ? { duplicateProductIds: dup } : {}),
        checkResult(asset, 'price_not_negative', negP.length === 0, negP.length ? { productIds: negP } : {}),
        checkResult(asset, 'stock_not_negative', negS.length === 0, negS.length ? { productIds: negS } : {}),
      ];
    }
    case 'web': {
      const dup = list(r.duplicate_skus), older = list(r.older_versions_dropped);
      return [
        checkResult(asset, 'sku_not_null', r.null_skus === 0, { nullCount: r.null_skus }),
        checkResult(asset, 'sku_unique', dup.length === 0, dup.length ? { duplicateSkus: dup } : {}),
        checkResult(asset, 'sku_single_version', older.length === 0, older.length ? { olderVersionsDropped: older, rule: 'kept the most recent post_modified' } : {}),
      ];
    }
    case 'liaison': {
      const dup = list(r.duplicate_ids);
      return [
        checkResult(asset, 'product_id_not_null', r.null_ids === 0, { nullCount: r.null_ids }),
        checkResult(asset, 'product_id_unique', dup.length === 0, dup.length ? { duplicateProductIds: dup } : {}),
      ];
    }
  }
}

/**
 * Reads a raw workbook into the temp table raw_<name> through DuckDB's appender: streamed on this
 * thread, or parsed on a worker thread that sends its rows in batches, appended here as they come.
 */
async function readRaw(ctx: StageContext, db: Db, name: InputName, path: string, offThread: boolean): Promise<SheetSummary> {
  const spec = SOURCES[name];
  const sink = await db.appendTo(`raw_${name}`, spec.columns);
  try {
    if (!offThread) return await timed(`clean: read ${spec.file} here`, () => readSheetInto(path, spec, ctx.limits, sink));
    return await timed(`clean: read ${spec.file} on a worker`, () => ctx.tasks.run<SheetSummary>({
      module: READER, fn: 'readSheetBatches', args: [path, spec, ctx.limits], timeoutMs: ctx.limits.maxMillis + 5_000, label: spec.file,
      onMessage: (batch) => replayBatch(batch as RowBatch, sink),
    }));
  } finally {
    sink.close();
  }
}

/**
 * Which workbooks go to the worker threads: the largest ones, one per thread; the main thread reads
 * the others meanwhile (with one worker: web.xlsx there, erp and liaison here).
 */
function offThreadNames(ctx: StageContext, event: PipelineEvent): Set<InputName> {
  const bytes = (n: InputName) => Number(event.materializations[`raw_${n}`]?.metadata.bytes ?? 0);
  return new Set([...INPUT_NAMES].sort((a, b) => bytes(b) - bytes(a)).slice(0, ctx.tasks.threads));
}

/** Reads one raw workbook, cleans it with its SQL, stores the Parquet, and computes its checks. */
async function cleanOne(ctx: StageContext, db: Db, event: PipelineEvent, name: InputName, workDir: string, offThread: boolean) {
  const asset = `${name}_clean`;
  const t0 = performance.now();
  try {
    const raw = event.materializations[`raw_${name}`];
    if (!raw) throw new Error(`event has no materialization of raw_${name}`);
    const local = await ctx.store.getToFile(raw.location);
    let sheet: SheetSummary;
    try {
      // Bounded in memory and time; every part's CRC is checked as it is parsed.
      sheet = await readRaw(ctx, db, name, local.path, offThread);
    } finally {
      await local.release();
    }
    await timed(`clean: create ${asset}`, () => db.run(sql(`create_${asset}`)));
    const checks = await timed(`clean: checks of ${asset}`, () => assetChecks(db, name));
    // The export's sheet was not there by name: its only worksheet was read, which a person should know.
    const fallback = sheet.sheetFallback;
    checks.push(checkResult(asset, 'expected_sheet_present', !fallback, fallback ? { expected: fallback.expected, sheetRead: fallback.read } : { sheetRead: sheet.sheetRead }));
    const rowCount = await db.count(asset);
    const exp = expectationResult(asset, { rowCount }, event.expectations);
    if (exp) checks.push(exp);
    const path = join(workDir, `${asset}.parquet`);
    await timed(`clean: ${asset} to Parquet`, () => db.toParquet(asset, path));
    const m = await materialize(ctx, event, asset, path, {
      rowCount, columns: await db.columns(asset), startedAt: t0,
      rawRows: sheet.rowCount + sheet.blankRows, blankRows: sheet.blankRows, sheet: sheet.sheetRead,
      ...(sheet.extraColumns.length ? { ignoredColumns: sheet.extraColumns } : {}),
    });
    return { asset, m, checks };
  } catch (e) {
    throw assetErrorBoundary('clean', asset, e);
  }
}

async function withWorkDir<T>(ctx: StageContext, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(ctx.workDir, 'clean-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** On file-arrived: materialize erp_clean, web_clean, liaison_clean and emit `cleaned`. */
async function onFileArrived(event: PipelineEvent, ctx: StageContext): Promise<PipelineEvent[]> {
  return withWorkDir(ctx, async (dir) => {
    // The three workbooks are read concurrently; each gets its own connection (temp tables are per connection).
    const off = offThreadNames(ctx, event);
    const settled = await Promise.allSettled(INPUT_NAMES.map((n) => ctx.duck.with((db) => cleanOne(ctx, db, event, n, dir, off.has(n)))));
    // Reported in a fixed order, whichever failed first in time: the same bad month, the same error.
    const firstFailure = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (firstFailure) throw firstFailure.reason;
    const done = settled.map((r) => (r as PromiseFulfilledResult<Awaited<ReturnType<typeof cleanOne>>>).value);
    const base = carry(event);
    for (const d of done) {
      base.materializations[d.asset] = d.m;
      for (const c of d.checks) ctx.progress?.onCheck?.({ ...c, runId: event.runId });
      base.checks.push(...d.checks);
    }
    return [makeEvent('cleaned', { ...base, payload: {} }, ctx.now())];
  });
}

/**
 * On cleaned: the validation gate. Runs the cross-asset checks over the three cleaned assets,
 * then lets the run through (`validated`) only if no blocking check of the cleaned assets failed.
 */
async function onCleaned(event: PipelineEvent, ctx: StageContext): Promise<PipelineEvent[]> {
  const gateChecks = await ctx.duck.with(async (db) => {
    const locals = [];
    try {
      for (const a of ['erp_clean', 'web_clean', 'liaison_clean']) {
        const m = event.materializations[a];
        if (!m) throw new Error(`event has no materialization of ${a}`);
        const f = await ctx.store.getToFile(m.location);
        locals.push(f);
        await db.attachParquet(a, f.path);
      }
      const r = await db.one(sql('check_gate'));
      const unmatched = list(r.id_web_without_web_product), unmapped = list(r.onsale_without_liaison);
      return [
        checkResult('liaison_clean', 'id_web_matches_web', unmatched.length === 0, unmatched.length ? { idWebWithoutWebProduct: unmatched } : {}),
        checkResult('erp_clean', 'erp_products_mapped', unmapped.length === 0, unmapped.length ? { onsaleProductIdsWithoutLiaison: unmapped } : {}),
      ];
    } finally {
      for (const f of locals) await f.release();
    }
  });
  for (const c of gateChecks) ctx.progress?.onCheck?.({ ...c, runId: event.runId });
  const base = carry(event);
  base.checks.push(...gateChecks);
  gate('clean', base.checks.filter((c) => c.asset.endsWith('_clean')));
  return [makeEvent('validated', { ...base, payload: {} }, ctx.now())];
}

/** clean: the cleaning rules of the three exports, and the quality gate. */
export const cleanStage: StageHandler = {
  stage: 'clean',
  consumes: ['file-arrived', 'cleaned'],
  async handle(event, ctx) {
    if (event.type === 'file-arrived') return onFileArrived(event, ctx);
    if (event.type === 'cleaned') return onCleaned(event, ctx);
    return [];
  },
};

export type { Materialization };
