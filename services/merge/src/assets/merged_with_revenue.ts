import { defineAsset, errorCheck } from '@bottleneck/shared/assets/define';
import { counted } from '@bottleneck/shared/stage/checks';
import { text } from '@bottleneck/shared/duck/sql';
import { monthOverMonthChecks } from './month_over_month.js';

const n = (v: unknown) => Number(v);

/** ERP join liaison on product_id join web on id_web = sku, with revenue = price x total_sales. */
export const mergedWithRevenue = defineAsset({
  key: 'merged_with_revenue',
  deps: ['erp_clean', 'liaison_clean', 'web_clean'],
  kind: 'table',
  module: import.meta.url,
  description: 'ERP join liaison on product_id join web on id_web = sku, with revenue = price x total_sales',
  publishAs: 'merged_with_revenue.csv',
  publishSql: 'export_merged_with_revenue',
  checks: [
    errorCheck('revenue_not_null', 'every merged row has a revenue', {
      sql: 'check_merged_with_revenue_revenue_not_null',
      found: (m) => `${counted(n(m.nullRevenue), 'merged row has', 'merged rows have')} no revenue`,
    }),
    errorCheck('keys_unique', 'no product_id and no sku twice', {
      sql: 'check_merged_with_revenue_keys_unique',
      found: (m) =>
        `the merge repeats ${counted(n(m.duplicateProductIds), 'product_id')} and ${counted(n(m.duplicateSkus), 'sku')}`,
    }),
    errorCheck('row_count_matches_web', 'merged rows = web products that have an ERP match', {
      sql: 'check_merged_with_revenue_row_count_matches_web',
      found: (m) =>
        `${counted(n(m.mergedRows), 'merged row')}, but ${counted(n(m.webProductsWithErpMatch), 'web product has', 'web products have')} an ERP match`,
    }),
    ...monthOverMonthChecks,
  ],
  async compute(ctx) {
    const db = await ctx.db();
    await db.run(ctx.sql('create_merged_with_revenue'));
    const { total_revenue } = await db.one(ctx.sql('select_merged_with_revenue_total'));
    return { kind: 'table', metadata: { totalRevenue: text(total_revenue) } };
  },
  figures: (m) => ({ totalRevenue: String(m.totalRevenue) }),
});
