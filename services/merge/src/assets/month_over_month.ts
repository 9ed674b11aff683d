import { defined } from '@bottleneck/shared';
import type { AssetContext, CheckOutcome } from '@bottleneck/shared/assets/define';
import { warnCheck } from '@bottleneck/shared/assets/define';
import { counted, listed } from '@bottleneck/shared/stage/checks';
import type { CurrentPointer } from '@bottleneck/shared/published';
import type { ObjectStore } from '@bottleneck/shared/ports/object-store';

/**
 * Checks across months (WARN, never blocking): a month's merged_with_revenue against the last
 * month before it that is published, read as any reader reads it (its pointer, then the
 * merged_with_revenue.csv it names). Thresholds from BN_MOM_* (`ctx.settings.mom`). The first
 * month (nothing published before it) passes, saying there is nothing to compare.
 */

const POINTER = /^extracts\/(\d{4}-(?:0[1-9]|1[0-2]))\/_current\.json$/;
const PUBLISHED_CSV = 'merged_with_revenue.csv';

/** The pointer of the last month before `partition` that has a published set, or null. */
export async function previousPublished(store: ObjectStore, partition: string): Promise<CurrentPointer | null> {
  // Stryker disable next-line StringLiteral: equivalent, POINTER keeps only keys under extracts/ (listing more is slower, not different)
  const months = (await store.list('extracts/'))
    .map((o) => POINTER.exec(o.key)?.[1])
    .filter((m): m is string => m !== undefined && m < partition)
    .sort();
  for (const month of months.reverse()) {
    try {
      const p = JSON.parse((await store.get(`extracts/${month}/_current.json`)).toString('utf8')) as CurrentPointer;
      if (p.files.some((f) => f.name === PUBLISHED_CSV)) return p;
    } catch {
      // A pointer that went meanwhile or cannot be read: the month before it is the one to compare with.
    }
  }
  return null;
}

const loaded = new WeakMap<AssetContext, Promise<string | null>>();

/** The previous published month, its CSV loaded as `previous_month` on the asset's connection (once per stage run); null: none. */
function previousMonth(ctx: AssetContext): Promise<string | null> {
  let p = loaded.get(ctx);
  if (!p) {
    p = (async () => {
      const pointer = await previousPublished(ctx.store, ctx.run.partition);
      if (!pointer) return null;
      const file = defined(
        pointer.files.find((f) => f.name === PUBLISHED_CSV),
        // Stryker disable next-line StringLiteral: unreachable, previousPublished returns only a pointer that names the CSV
        `${PUBLISHED_CSV} of ${pointer.partition}`,
      );
      const path = await ctx.fetch(file.key);
      await (await ctx.db()).run(ctx.sql('load_previous_merged_with_revenue'), { path });
      return pointer.partition;
    })();
    loaded.set(ctx, p);
  }
  return p;
}

/** Money as people read it: "70,568.60" (from exact decimal text, never through a float). */
export function money(v: unknown): string {
  const s = String(v);
  const neg = s.startsWith('-');
  const [int = '0', frac = ''] = (neg ? s.slice(1) : s).split('.');
  return `${neg ? '-' : ''}${int.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}.${frac.padEnd(2, '0').slice(0, 2)}`;
}

/** A count as people read it: "1,204". */
const int = (v: unknown) => String(v).replace(/\B(?=(\d{3})+(?!\d))/g, ',');

/** "fell 52%", "rose 4.5%" from a signed percentage with one decimal ("-52.0", "4.5"). */
export function moved(changePct: unknown): string {
  const s = String(changePct);
  const abs = s.replace(/^-/, '').replace(/\.0$/, '');
  return `${s.startsWith('-') ? 'fell' : 'rose'} ${abs}%`;
}

async function compare(
  ctx: AssetContext,
  sql: string,
  params: Record<string, string>,
  words: (row: Record<string, unknown>, against: string) => string,
): Promise<CheckOutcome> {
  const against = await previousMonth(ctx);
  if (!against)
    return {
      passed: true,
      message: `nothing to compare: no month before ${ctx.run.partition} is published`,
      metadata: { previousMonth: null },
    };
  const { passed, ...raw } = await (await ctx.db()).one(ctx.sql(sql), params);
  const row = Object.fromEntries(
    Object.entries(raw).map(([k, v]) => [k.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase()), v]),
  );
  const metadata = { previousMonth: against, ...row };
  return passed === true ? { passed: true, metadata } : { passed: false, metadata, message: words(row, against) };
}

const mom = (ctx: AssetContext) => ctx.settings.mom;

interface MovedPrice {
  productId: string;
  title: string;
  previousPrice: string;
  price: string;
}

/** The four checks, declared on merged_with_revenue. */
export const monthOverMonthChecks = [
  warnCheck(
    'total_revenue_vs_previous_month',
    'total revenue within BN_MOM_REVENUE_CHANGE_PCT of the last published month',
    {
      run: (ctx) =>
        compare(
          ctx,
          'compare_merged_with_revenue_total_revenue',
          { max_change_pct: mom(ctx).revenueChangePct },
          (r, against) =>
            r.changePct === null
              ? `total revenue is ${money(r.currentTotal)} against none in ${against}`
              : `total revenue ${moved(r.changePct)} against ${against}: ${money(r.previousTotal)} -> ${money(r.currentTotal)} (more than ${mom(ctx).revenueChangePct}%)`,
        ),
    },
  ),
  warnCheck(
    'product_count_vs_previous_month',
    'number of products within BN_MOM_PRODUCT_COUNT_CHANGE_PCT of the last published month',
    {
      run: (ctx) =>
        compare(
          ctx,
          'compare_merged_with_revenue_product_count',
          { max_change_pct: mom(ctx).productCountChangePct },
          (r, against) =>
            r.changePct === null
              ? `${int(r.currentCount)} products against none in ${against}`
              : `the number of products ${moved(r.changePct)} against ${against}: ${int(r.previousCount)} -> ${int(r.currentCount)} (more than ${mom(ctx).productCountChangePct}%)`,
        ),
    },
  ),
  warnCheck(
    'prices_vs_previous_month',
    'no price moved by more than BN_MOM_PRICE_RATIO times since the last published month',
    {
      run: (ctx) =>
        compare(ctx, 'compare_merged_with_revenue_prices', { ratio: mom(ctx).priceRatio }, (r, against) => {
          // The five largest moves in words (the metadata keeps ten): a message stays short enough to read whole.
          const items = ((Array.isArray(r.moved) ? r.moved : []) as MovedPrice[]).slice(0, 5);
          const n = Number(r.movedCount);
          return `${counted(n, 'product')} changed price by more than ${mom(ctx).priceRatio} times against ${against}: ${items
            .map((i) => `${i.productId} ${i.title} ${money(i.previousPrice)} -> ${money(i.price)}`)
            .join(', ')}${n > items.length ? ` and ${n - items.length} more` : ''}`;
        }),
    },
  ),
  warnCheck(
    'products_vs_previous_month',
    'products that appeared or disappeared within BN_MOM_PRODUCTS_CHURN_PCT of the last published month',
    {
      run: (ctx) =>
        compare(
          ctx,
          'compare_merged_with_revenue_products',
          { max_churn_pct: mom(ctx).productsChurnPct },
          (r, against) => {
            const list = (v: unknown, n: number) => {
              const items = Array.isArray(v) ? v : [];
              return `${listed(items)}${n > items.length ? ` and ${n - items.length} more` : ''}`;
            };
            const appeared = Number(r.appearedCount);
            const gone = Number(r.disappearedCount);
            const parts = [
              ...(appeared ? [`${counted(appeared, 'product')} appeared (${list(r.appeared, appeared)})`] : []),
              ...(gone ? [`${counted(gone, 'product')} disappeared (${list(r.disappeared, gone)})`] : []),
            ];
            return `${parts.join(' and ')} against ${against}, more than ${mom(ctx).productsChurnPct}% of its ${int(r.previousCount)} products`;
          },
        ),
    },
  ),
] as const;
