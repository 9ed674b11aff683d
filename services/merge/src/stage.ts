import { join } from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { assetErrorBoundary, assetSpec, carry, layout, makeEvent, type PipelineEvent } from '@bottleneck/shared';
import { loadSql } from '@bottleneck/shared/duck/index';
import { exportCsv } from '@bottleneck/shared/duck/export';
import type { StageContext, StageHandler } from '@bottleneck/shared/stage/context';
import { checkResult, counted, expectationResult, gate } from '@bottleneck/shared/stage/checks';
import { materialize } from '@bottleneck/shared/stage/materialize';

const sql = (name: string) => loadSql(new URL(`./assets/${name}.sql`, import.meta.url));
const ASSET = 'merged_with_revenue';

/** merge: on validated, joins the three cleaned assets, computes revenue, checks, emits `merged`. */
export const mergeStage: StageHandler = {
  stage: 'merge',
  consumes: ['validated'],
  async handle(event: PipelineEvent, ctx: StageContext): Promise<PipelineEvent[]> {
    const t0 = performance.now();
    const dir = await mkdtemp(join(ctx.workDir, 'merge-'));
    try {
      const { m, checks } = await ctx.duck.with(async (db) => {
        const locals = [];
        try {
          for (const dep of assetSpec(ASSET).deps) {
            const mat = event.materializations[dep];
            if (!mat) throw new Error(`event has no materialization of ${dep}`);
            const f = await ctx.store.getToFile(mat.location);
            locals.push(f);
            await db.attachParquet(dep, f.path);
          }
          await db.run(sql(`create_${ASSET}`));
          const r = await db.one(sql(`check_${ASSET}`));
          const rowCount = Number(r.merged_rows);
          const totalRevenue = String(r.total_revenue);
          const checks = [
            checkResult(ASSET, 'revenue_not_null', r.null_revenue === 0, { nullRevenue: r.null_revenue }, `${counted(Number(r.null_revenue), 'merged row has', 'merged rows have')} no revenue`),
            checkResult(ASSET, 'keys_unique', r.duplicate_product_ids === 0 && r.duplicate_skus === 0, { duplicateProductIds: r.duplicate_product_ids, duplicateSkus: r.duplicate_skus }, `the merge repeats ${counted(Number(r.duplicate_product_ids), 'product_id')} and ${counted(Number(r.duplicate_skus), 'sku')}`),
            checkResult(ASSET, 'row_count_matches_web', rowCount === r.expected_rows, { mergedRows: rowCount, webProductsWithErpMatch: r.expected_rows }, `${counted(rowCount, 'merged row')}, but ${counted(Number(r.expected_rows), 'web product has', 'web products have')} an ERP match`),
          ];
          const exp = expectationResult(ASSET, { rowCount, totalRevenue }, event.expectations);
          if (exp) checks.push(exp);
          const parquet = join(dir, `${ASSET}.parquet`);
          await db.toParquet(ASSET, parquet);
          const csv = join(dir, assetSpec(ASSET).publishAs!);
          await exportCsv(db, sql(`export_${ASSET}`), csv);
          await ctx.store.putFile(layout.staging(event.partition, event.runId, assetSpec(ASSET).publishAs!), csv);
          const m = await materialize(ctx, event, ASSET, parquet, { rowCount, columns: await db.columns(ASSET), totalRevenue, startedAt: t0 });
          return { m, checks };
        } finally {
          for (const f of locals) await f.release();
        }
      }).catch((e: unknown) => { throw assetErrorBoundary('merge', ASSET, e); });
      for (const c of checks) ctx.progress?.onCheck?.({ ...c, runId: event.runId });
      const base = carry(event);
      base.materializations[ASSET] = m;
      base.checks.push(...checks);
      gate('merge', checks);
      return [makeEvent('merged', { ...base, payload: {} }, ctx.now())];
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};
