import type { AssetContext } from '@bottleneck/shared/assets/define';
import type { Materialization } from '@bottleneck/shared';
import { describe, expect, it } from 'vitest';
import { revenueReport } from './revenue_report.js';

const check = revenueReport.checks.find((c) => c.name === 'summary_total_matches')!;

/** A check context that knows two materializations' metadata: the report's and the revenue per product's. */
function ctxWith(summaryTotal: unknown, totalRevenue: string): AssetContext {
  const mats: Record<string, Partial<Materialization>> = {
    revenue_report: { metadata: { durationMs: 0, summaryTotal } },
    revenue_per_product: { metadata: { durationMs: 0, totalRevenue } },
  };
  return { materialization: (k: string) => mats[k] } as unknown as AssetContext;
}

describe('revenue_report.summary_total_matches', () => {
  it('passes when the Summary cell as written shows the revenue per product total', async () => {
    // The cell holds a number: "30012.5" is what a spreadsheet shows as 30,012.50.
    await expect(check.run!(ctxWith('30012.5', '30012.50'))).resolves.toEqual({
      passed: true,
      metadata: { summaryTotal: '30012.50', perProductTotal: '30012.50' },
    });
  });

  it('fails when they differ, by a cent', async () => {
    const r = await check.run!(ctxWith('30012.49', '30012.50'));
    expect(r.passed).toBe(false);
    expect(check.found!(r.metadata ?? {})).toBe(
      'the Summary sheet shows 30012.49, the revenue per product sums to 30012.50',
    );
  });

  it('fails when the writer recorded no total', async () => {
    // Shown as it came (no "NaN" from formatting a total that is not there).
    await expect(check.run!(ctxWith(undefined, '30012.50'))).resolves.toEqual({
      passed: false,
      metadata: { summaryTotal: 'undefined', perProductTotal: '30012.50' },
    });
  });
});
