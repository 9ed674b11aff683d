import { defineAsset, errorCheck } from '@bottleneck/shared/assets/define';
import { text } from '@bottleneck/shared/duck/sql';

/** Revenue per product, by revenue descending then product_id. */
export const revenuePerProduct = defineAsset({
  key: 'revenue_per_product',
  deps: ['merged_with_revenue'],
  kind: 'table',
  module: import.meta.url,
  description: 'revenue per product, by revenue descending then product_id',
  checks: [
    errorCheck('total_revenue_preserved', 'sum of revenue equals the total of merged_with_revenue', {
      sql: 'check_revenue_per_product_total_revenue_preserved',
      found: (m) =>
        `the revenue per product sums to ${String(m.perProductTotal)}, the merged rows to ${String(m.mergedTotal)}`,
    }),
  ],
  async compute(ctx) {
    const db = await ctx.db();
    await db.run(ctx.sql('create_revenue_per_product'));
    const f = await db.one(ctx.sql('select_revenue_per_product_figures'));
    return { kind: 'table', metadata: { totalRevenue: text(f.total_revenue), unitsSold: text(f.units_sold) } };
  },
});
