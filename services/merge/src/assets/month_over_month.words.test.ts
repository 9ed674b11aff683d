import { describe, expect, it } from 'vitest';
import type { AssetContext } from '@bottleneck/shared/assets/define';
import type { ObjectStore } from '@bottleneck/shared/ports/object-store';
import { money, monthOverMonthChecks, previousPublished } from './month_over_month.js';

// The month-over-month checks' words for every outcome the comparison queries can give (their SQL is
// tested at the rule in month_over_month.test.ts): here each query's row is given as it would come.

const SETTINGS = {
  mom: { revenueChangePct: '30', productCountChangePct: '20', priceRatio: '2', productsChurnPct: '10' },
};
const pointer = (month: string, names = ['merged_with_revenue.csv']) =>
  JSON.stringify({
    partition: month,
    runId: `${month}-r`,
    files: names.map((name) => ({ name, key: `extracts/${month}/${month}-r/${name}` })),
  });

/** A store holding these objects (list and get are all the checks use). */
function storeOf(objects: Record<string, string>): ObjectStore {
  return {
    list: (prefix: string) =>
      Promise.resolve(
        Object.keys(objects)
          .filter((k) => k.startsWith(prefix))
          .sort()
          .map((key) => ({ key })),
      ),
    get: (key: string) =>
      key in objects ? Promise.resolve(Buffer.from(objects[key]!)) : Promise.reject(new Error(`no ${key}`)),
  } as unknown as ObjectStore;
}

/** A context whose comparison query returns `row` (snake_case, as DuckDB gives it); records the loads. */
function context(
  row: Record<string, unknown>,
  store = storeOf({ 'extracts/2026-10/_current.json': pointer('2026-10') }),
) {
  const calls: unknown[] = [];
  const db = {
    run: (sql: string, params: unknown) => {
      calls.push(['run', sql, params]);
      return Promise.resolve();
    },
    one: (sql: string, params: unknown) => {
      calls.push(['one', sql, params]);
      return Promise.resolve(row);
    },
  };
  const ctx = {
    run: { runId: '2026-11-r', partition: '2026-11', startedAt: '' },
    store,
    settings: SETTINGS,
    db: () => Promise.resolve(db),
    sql: (name: string) => name,
    fetch: (key: string) => {
      calls.push(['fetch', key]);
      return Promise.resolve(`/tmp/${key}`);
    },
  } as unknown as AssetContext;
  return { ctx, calls };
}

const [total, count, prices, products] = monthOverMonthChecks;

describe('month-over-month: the comparison row, in words', () => {
  it('a passing check keeps the row as metadata (camelCase), with the month compared against, and says nothing', async () => {
    const { ctx, calls } = context({
      passed: true,
      previous_total: '10.00',
      current_total: '11.00',
      change_pct: '10.0',
    });
    expect(await total.run!(ctx)).toEqual({
      passed: true,
      metadata: { previousMonth: '2026-10', previousTotal: '10.00', currentTotal: '11.00', changePct: '10.0' },
    });
    expect(calls).toEqual([
      ['fetch', 'extracts/2026-10/2026-10-r/merged_with_revenue.csv'],
      ['run', 'load_previous_merged_with_revenue', { path: '/tmp/extracts/2026-10/2026-10-r/merged_with_revenue.csv' }],
      ['one', 'compare_merged_with_revenue_total_revenue', { max_change_pct: '30' }],
    ]);
  });

  it('loads the previous month once per context, however many checks compare with it', async () => {
    const { ctx, calls } = context({ passed: true });
    await total.run!(ctx);
    await count.run!(ctx);
    expect(calls.filter((c) => (c as string[])[0] !== 'one')).toHaveLength(2);
    expect(calls.filter((c) => (c as string[])[0] === 'one').map((c) => (c as unknown[])[2])).toEqual([
      { max_change_pct: '30' },
      { max_change_pct: '20' },
    ]);
  });

  it('total revenue: risen, and against a month without revenue', async () => {
    const r = await total.run!(
      context({ passed: false, previous_total: '1000', current_total: '1400.5', change_pct: '40.1' }).ctx,
    );
    expect([r.passed, r.message]).toEqual([
      false,
      'total revenue rose 40.1% against 2026-10: 1,000.00 -> 1,400.50 (more than 30%)',
    ]);
    const none = await total.run!(
      context({ passed: false, previous_total: null, current_total: '5', change_pct: null }).ctx,
    );
    expect(none.message).toBe('total revenue is 5.00 against none in 2026-10');
  });

  it('the number of products: fallen, and against a month with none', async () => {
    const r = await count.run!(
      context({ passed: false, previous_count: 1204, current_count: 1000, change_pct: '-16.9' }).ctx,
    );
    expect(r.message).toBe('the number of products fell 16.9% against 2026-10: 1,204 -> 1,000 (more than 20%)');
    const none = await count.run!(
      context({ passed: false, previous_count: 0, current_count: 12345, change_pct: null }).ctx,
    );
    expect(none.message).toBe('12,345 products against none in 2026-10');
    const many = await count.run!(
      context({ passed: false, previous_count: 1, current_count: 1234567, change_pct: null }).ctx,
    );
    expect(many.message).toBe('1,234,567 products against none in 2026-10');
  });

  it('prices: the five largest moves in words, and how many more', async () => {
    const item = (i: number) => ({ productId: String(i), title: `Wine ${i}`, previousPrice: '10', price: `${i}0.5` });
    const seven = await prices.run!(
      context({ passed: false, moved: [1, 2, 3, 4, 5, 6, 7].map(item), moved_count: 12 }).ctx,
    );
    expect(seven.message).toBe(
      '12 products changed price by more than 2 times against 2026-10: 1 Wine 1 10.00 -> 10.50, 2 Wine 2 10.00 -> 20.50, 3 Wine 3 10.00 -> 30.50, 4 Wine 4 10.00 -> 40.50, 5 Wine 5 10.00 -> 50.50 and 7 more',
    );
    const one = await prices.run!(context({ passed: false, moved: [item(1)], moved_count: 1 }).ctx);
    expect(one.message).toBe('1 product changed price by more than 2 times against 2026-10: 1 Wine 1 10.00 -> 10.50');
    const none = await prices.run!(context({ passed: false, moved: null, moved_count: 0 }).ctx);
    expect(none.message).toBe('0 products changed price by more than 2 times against 2026-10: ');
  });

  it('products: appeared only, disappeared only, and more than the lists hold', async () => {
    const appeared = await products.run!(
      context({
        passed: false,
        appeared: [5, 6],
        appeared_count: 2,
        disappeared: [],
        disappeared_count: 0,
        previous_count: 10,
      }).ctx,
    );
    expect(appeared.message).toBe('2 products appeared (5, 6) against 2026-10, more than 10% of its 10 products');
    const gone = await products.run!(
      context({
        passed: false,
        appeared: null,
        appeared_count: 0,
        disappeared: [9],
        disappeared_count: 30,
        previous_count: 1500,
      }).ctx,
    );
    expect(gone.message).toBe(
      '30 products disappeared (9 and 29 more) against 2026-10, more than 10% of its 1,500 products',
    );
  });
});

describe('month-over-month: the month to compare with', () => {
  it('the first month: nothing to compare, nothing loaded', async () => {
    const { ctx, calls } = context({ passed: false }, storeOf({}));
    for (const c of monthOverMonthChecks)
      expect(await c.run!(ctx)).toEqual({
        passed: true,
        message: 'nothing to compare: no month before 2026-11 is published',
        metadata: { previousMonth: null },
      });
    expect(calls).toEqual([]);
  });

  it('skips a pointer that cannot be read or names no merged_with_revenue.csv, and keys that are no month pointer', async () => {
    const store = storeOf({
      'extracts/2026-07/_current.json': pointer('2026-07', ['premium_wines.csv', 'merged_with_revenue.csv']),
      'extracts/2026-08/_current.json': pointer('2026-08', ['premium_wines.csv']),
      'extracts/2026-09/_current.json': '{ not json',
      'extracts/2026-10/_current.jsonx': pointer('2026-10'),
      'extracts/2026-13/_current.json': pointer('2026-13'),
      'extracts/2026-11/_current.json': pointer('2026-11'),
      'extracts/old/extracts/2026-10/_current.json': pointer('2026-10'),
    });
    expect((await previousPublished(store, '2026-11'))?.partition).toBe('2026-07');
    expect((await previousPublished(store, '2026-12'))?.partition).toBe('2026-11');
    expect(await previousPublished(store, '2026-07')).toBeNull();
    // The CSV is fetched by its entry in the pointer, wherever it is listed.
    const { ctx, calls } = context({ passed: true }, store);
    (ctx.run as { partition: string }).partition = '2026-08';
    await total.run!(ctx);
    expect(calls[0]).toEqual(['fetch', 'extracts/2026-07/2026-07-r/merged_with_revenue.csv']);
  });

  it('takes the latest month before, whatever order the store lists them in', async () => {
    const store = storeOf({
      'extracts/2025-12/_current.json': pointer('2025-12'),
      'extracts/2026-02/_current.json': pointer('2026-02'),
      'extracts/2026-01/_current.json': pointer('2026-01'),
    });
    const shuffled = {
      ...store,
      list: async (p: string) => (await store.list(p)).reverse(),
      get: store.get,
    } as unknown as ObjectStore;
    expect((await previousPublished(shuffled, '2026-03'))?.partition).toBe('2026-02');
  });
});

describe('money', () => {
  it('pads or cuts to two decimals, and groups thousands only in the integer part', () => {
    expect(money('1234.5')).toBe('1,234.50');
    expect(money('999')).toBe('999.00');
    expect(money('1000.12345')).toBe('1,000.12');
    expect(money('-0.5')).toBe('-0.50');
  });
});
