import { join } from 'node:path';
import { defineAsset, errorCheck } from '@bottleneck/shared/assets/define';
import { callTask, taskFn } from '@bottleneck/shared/workers/pool';
import { type ReportRow, type ReportSummary } from '../report.js';

const reportTask = taskFn<typeof import('../report.js')>();
const REPORT = new URL('../report.js', import.meta.url).href;
const writeRevenueReport = reportTask(REPORT, 'writeRevenueReport');

/** The workbook an analyst opens: sheet "Revenue by Product" and sheet "Summary". */
export const revenueReport = defineAsset({
  key: 'revenue_report',
  deps: ['revenue_per_product', 'premium_wines', 'ordinary_wines'],
  kind: 'file',
  file: 'revenue_per_product.xlsx',
  publishAs: 'revenue_per_product.xlsx',
  module: import.meta.url,
  description: 'workbook: sheet "Revenue by Product" and sheet "Summary"',
  checks: [
    errorCheck('summary_total_matches', 'Summary total revenue equals the sum of revenue_per_product', {
      // The Summary's total as the writer wrote it in the cell (what a spreadsheet reads): the writer
      // verifies what it writes as it writes it, so the file is not read back.
      run(ctx) {
        const written = ctx.materialization('revenue_report').metadata.summaryTotal;
        const summaryTotal = typeof written === 'string' ? Number(written).toFixed(2) : String(written);
        const perProductTotal = String(ctx.materialization('revenue_per_product').metadata.totalRevenue);
        return Promise.resolve({
          passed: summaryTotal === perProductTotal,
          metadata: { summaryTotal, perProductTotal },
        });
      },
      found: (m) =>
        `the Summary sheet shows ${String(m.summaryTotal)}, the revenue per product sums to ${String(m.perProductTotal)}`,
    }),
  ],
  async compute(ctx) {
    const db = await ctx.db();
    const rows = (await db.rows(ctx.sql('select_revenue_report'))) as unknown as ReportRow[];
    const per = ctx.materialization('revenue_per_product').metadata;
    const premium = Number(ctx.materialization('premium_wines').metadata.rowCount);
    const ordinary = Number(ctx.materialization('ordinary_wines').metadata.rowCount);
    const summary: ReportSummary = {
      runId: ctx.run.runId,
      partition: ctx.run.partition,
      madeAt: ctx.run.startedAt,
      totalRevenue: String(per.totalRevenue),
      products: rows.length,
      premium,
      ordinary,
      unitsSold: String(per.unitsSold),
    };
    const path = join(ctx.workDir, ctx.asset.file);
    // The writer can run on a worker thread: ctx.tasks decides.
    const written = await callTask(ctx.tasks, writeRevenueReport, [path, rows, summary], {
      label: ctx.asset.file,
      group: ctx.run.partition,
    });
    return {
      kind: 'file',
      path,
      metadata: {
        rowCount: rows.length,
        sheets: ['Revenue by Product', 'Summary'],
        totalRevenue: summary.totalRevenue,
        premium,
        ordinary,
        summaryTotal: written.summaryTotal,
      },
    };
  },
});
