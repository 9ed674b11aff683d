import { join } from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { assetErrorBoundary, carry, makeEvent, type CheckResult, type Materialization, type PipelineEvent } from '@bottleneck/shared';
import { loadSql, type Db } from '@bottleneck/shared/duck/index';
import { exportCsv } from '@bottleneck/shared/duck/export';
import type { StageContext, StageHandler } from '@bottleneck/shared/stage/context';
import { checkResult, expectationResult, gate } from '@bottleneck/shared/stage/checks';
import { materialize } from '@bottleneck/shared/stage/materialize';
import { timed } from '@bottleneck/shared/profile';
import type { ReportRow } from './report.js';

const REPORT = new URL('./report.js', import.meta.url).href;

const sql = (name: string) => loadSql(new URL(`./assets/${name}.sql`, import.meta.url));
/** Premium when the price z-score is above this. */
export const PREMIUM_Z = 2;

async function compute(ctx: StageContext, db: Db, event: PipelineEvent, dir: string) {
  const mats: Record<string, Materialization> = {};
  const checks: CheckResult[] = [];
  const run = { runId: event.runId, partition: event.partition };
  const step = async <T>(asset: string, fn: () => Promise<T>): Promise<T> => {
    try { return await fn(); } catch (e) { throw assetErrorBoundary('analytics', asset, e); }
  };

  const merged = event.materializations.merged_with_revenue;
  if (!merged) throw new Error('event has no materialization of merged_with_revenue');
  const local = await ctx.store.getToFile(merged.location);
  try {
    await db.attachParquet('merged_with_revenue', local.path);
    let t0 = performance.now();
    await step('revenue_per_product', () => db.run(sql('create_revenue_per_product')));
    await step('wine_price_zscores', () => db.run(sql('create_wine_price_zscores')));
    const r = await db.one(sql('check_analytics'));
    const mergedRows = Number(r.merged_rows);

    const rpp = join(dir, 'revenue_per_product.parquet');
    await db.toParquet('revenue_per_product', rpp);
    checks.push(checkResult('revenue_per_product', 'total_revenue_preserved', r.merged_total === r.per_product_total, { mergedTotal: r.merged_total, perProductTotal: r.per_product_total }));
    const rppRows = await db.count('revenue_per_product');
    const e1 = expectationResult('revenue_per_product', { rowCount: rppRows }, event.expectations);
    if (e1) checks.push(e1);
    mats.revenue_per_product = await materialize(ctx, run, 'revenue_per_product', rpp, { rowCount: rppRows, columns: await db.columns('revenue_per_product'), totalRevenue: r.per_product_total, startedAt: t0 });

    t0 = performance.now();
    const z = join(dir, 'wine_price_zscores.parquet');
    await db.toParquet('wine_price_zscores', z);
    checks.push(checkResult('wine_price_zscores', 'row_count_matches_merged', r.zscore_rows === mergedRows, { zscoreRows: r.zscore_rows, mergedRows }));
    mats.wine_price_zscores = await materialize(ctx, run, 'wine_price_zscores', z, { rowCount: Number(r.zscore_rows), columns: await db.columns('wine_price_zscores'), startedAt: t0 });

    // Counted from the files written, not from the query that split them: the check sees what ships.
    const csvRows: Record<'premium_wines' | 'ordinary_wines', number> = { premium_wines: 0, ordinary_wines: 0 };
    for (const [asset, isPremium] of [['premium_wines', true], ['ordinary_wines', false]] as const) {
      t0 = performance.now();
      const path = join(dir, `${asset}.csv`);
      const info = await step(asset, async () => {
        // The selection binds its parameters into a temp table; the CSV is exported from it.
        await db.run(`CREATE OR REPLACE TEMP TABLE ${asset} AS ${sql('select_wines').replace(/;\s*$/, '')}`, { threshold: PREMIUM_Z, premium: isPremium });
        return exportCsv(db, `SELECT * FROM ${asset} ORDER BY price DESC, product_id`, path);
      });
      csvRows[asset] = info.rowCount;
      const e = expectationResult(asset, { rowCount: info.rowCount, ...(isPremium ? { premium: info.rowCount } : { ordinary: info.rowCount }) }, event.expectations);
      if (e) checks.push(e);
      mats[asset] = await materialize(ctx, run, asset, path, { rowCount: info.rowCount, columns: info.columns, startedAt: t0 });
    }
    const premium = csvRows.premium_wines, ordinary = csvRows.ordinary_wines;
    checks.push(checkResult('premium_wines', 'premium_plus_ordinary_is_merged', premium + ordinary === mergedRows, { premium, ordinary, mergedRows }));

    t0 = performance.now();
    const xlsx = join(dir, 'revenue_per_product.xlsx');
    const rows = (await db.rows(sql('select_revenue_report'))) as unknown as ReportRow[];
    const summaryValues = { partition: event.partition, totalRevenue: String(r.per_product_total), products: mergedRows, premium, ordinary, unitsSold: String(r.units_sold) };
    await step('revenue_report', () => timed('analytics: write the xlsx report', () => ctx.tasks.run({ module: REPORT, fn: 'writeRevenueReport', args: [xlsx, rows, summaryValues], label: 'revenue_per_product.xlsx' })));
    const summary = new Map(await step('revenue_report', () => timed('analytics: read the Summary back', () => ctx.tasks.run<[string, unknown][]>({ module: REPORT, fn: 'readSummaryEntries', args: [xlsx], label: 'revenue_per_product.xlsx' }))));
    const written = summary.get('Total Revenue');
    const writtenCents = typeof written === 'number' ? written.toFixed(2) : String(written);
    checks.push(checkResult('revenue_report', 'summary_total_matches', writtenCents === r.per_product_total, { summaryTotal: writtenCents, perProductTotal: r.per_product_total }));
    mats.revenue_report = await materialize(ctx, run, 'revenue_report', xlsx, { rowCount: rows.length, sheets: ['Revenue by Product', 'Summary'], totalRevenue: r.per_product_total, premium, ordinary, startedAt: t0 });
  } finally {
    await local.release();
  }
  return { mats, checks };
}

/** analytics: on merged, materializes the reports and their checks, emits `analysed`. */
export const analyticsStage: StageHandler = {
  stage: 'analytics',
  consumes: ['merged'],
  async handle(event, ctx) {
    const dir = await mkdtemp(join(ctx.workDir, 'analytics-'));
    try {
      const { mats, checks } = await ctx.duck.with((db) => compute(ctx, db, event, dir));
      for (const c of checks) ctx.progress?.onCheck?.({ ...c, runId: event.runId });
      const base = carry(event);
      Object.assign(base.materializations, mats);
      base.checks.push(...checks);
      gate('analytics', checks);
      return [makeEvent('analysed', { ...base, payload: {} }, ctx.now())];
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};
