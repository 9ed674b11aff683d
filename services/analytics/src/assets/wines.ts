import { join } from 'node:path';
import { defineAsset, errorCheck, type AssetContext } from '@bottleneck/shared/assets/define';
import { csvRowsAsWritten, exportCsv } from '@bottleneck/shared/duck/export';
import { quoteIdent } from '@bottleneck/shared/duck/sql';

/** Premium when the price z-score is above this. */
export const PREMIUM_Z = 2;

/** Writes premium_wines.csv or ordinary_wines.csv: the selection, by price descending then product_id. */
async function writeWines(ctx: AssetContext, premium: boolean) {
  const db = await ctx.db();
  const key = ctx.asset.key;
  await db.run(`CREATE TABLE ${quoteIdent(key)} AS ${ctx.sql('select_wines').replace(/;\s*$/, '')}`, {
    threshold: PREMIUM_Z,
    premium,
  });
  const path = join(ctx.workDir, ctx.asset.file);
  const info = await exportCsv(db, `SELECT * FROM ${quoteIdent(key)} ORDER BY price DESC, product_id`, path);
  return { kind: 'file' as const, path, metadata: { rowCount: info.rowCount, columns: info.columns } };
}

/** Rows of a CSV as written, counted by reading it back: a check sees what ships. */
async function csvRows(ctx: AssetContext, key: 'premium_wines' | 'ordinary_wines'): Promise<number> {
  return csvRowsAsWritten(await ctx.inputFile(key));
}

export const premiumWines = defineAsset({
  key: 'premium_wines',
  deps: ['wine_price_zscores'],
  kind: 'file',
  file: 'premium_wines.csv',
  publishAs: 'premium_wines.csv',
  module: import.meta.url,
  description: `wines with z > ${PREMIUM_Z}, by price descending then product_id`,
  checks: [
    errorCheck('premium_plus_ordinary_is_merged', 'premium + ordinary = merged rows', {
      deps: ['ordinary_wines', 'merged_with_revenue'],
      async run(ctx) {
        const [premium, ordinary] = await Promise.all([csvRows(ctx, 'premium_wines'), csvRows(ctx, 'ordinary_wines')]);
        const mergedRows = Number(ctx.materialization('merged_with_revenue').metadata.rowCount);
        return { passed: premium + ordinary === mergedRows, metadata: { premium, ordinary, mergedRows } };
      },
      found: (m) =>
        `${String(m.premium)} premium + ${String(m.ordinary)} ordinary = ${Number(m.premium) + Number(m.ordinary)}, not the ${String(m.mergedRows)} merged rows`,
    }),
  ],
  compute: (ctx) => writeWines(ctx, true),
  figures: (m) => ({ premium: Number(m.rowCount) }),
});

export const ordinaryWines = defineAsset({
  key: 'ordinary_wines',
  deps: ['wine_price_zscores'],
  kind: 'file',
  file: 'ordinary_wines.csv',
  publishAs: 'ordinary_wines.csv',
  module: import.meta.url,
  description: `wines with z <= ${PREMIUM_Z}, by price descending then product_id`,
  compute: (ctx) => writeWines(ctx, false),
  figures: (m) => ({ ordinary: Number(m.rowCount) }),
});
