import { defineAsset, errorCheck } from '@bottleneck/shared/assets/define';
import { counted } from '@bottleneck/shared/stage/checks';

/** The z-score of price over the merged rows (sample standard deviation), from exact decimal sums. */
export const winePriceZscores = defineAsset({
  key: 'wine_price_zscores',
  deps: ['merged_with_revenue'],
  kind: 'table',
  module: import.meta.url,
  description: 'z-score of price over the merged rows (sample standard deviation)',
  checks: [
    errorCheck('row_count_matches_merged', 'one z-score per merged row', {
      sql: 'check_wine_price_zscores_row_count_matches_merged',
      found: (m) => `${counted(Number(m.zscoreRows), 'z-score')} for ${counted(Number(m.mergedRows), 'merged row')}`,
    }),
  ],
  async compute(ctx) {
    const db = await ctx.db();
    await db.run(ctx.sql('create_wine_price_zscores'));
    return { kind: 'table' };
  },
});
