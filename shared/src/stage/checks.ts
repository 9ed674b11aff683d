import type { CheckResult, Expectations } from '../events/index.js';

/** Added to every asset when the run has expectations (`bottleneck run --expect FILE`). */
export const EXPECTATION_CHECK = {
  name: 'matches_expectations',
  description: 'row count (and total revenue, premium and ordinary counts where given) equal the expectations file',
  severity: 'ERROR',
  blocking: true,
} as const;

/** Items a person can read, bounded: "5017, 6594", or "a, b, c ... and 12 more". */
export function listed(items: readonly unknown[], max = 10): string {
  const shown = items
    .slice(0, max)
    .map((i) => (typeof i === 'string' || typeof i === 'number' ? String(i) : JSON.stringify(i)));
  return items.length > max ? `${shown.join(', ')} and ${items.length - max} more` : shown.join(', ');
}

/** A metadata value as a list (an absent or scalar value: none). */
export function itemsOf(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/**
 * What a check found, in words, from a list in its metadata:
 * `foundItems(['5017', '6594'], 'product has', 'products have', 'a negative price')` is
 * "2 products have a negative price: 5017, 6594".
 */
export function foundItems(v: unknown, one: string, many: string, what: string): string {
  const items = itemsOf(v);
  return `${counted(items.length, one, many)} ${what}: ${listed(items)}`;
}

/** "1 product", "2 products": a count with its noun. */
export function counted(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** The expectations check of an asset, when the run has expectations for it; null otherwise. */
export function expectationResult(
  asset: string,
  actual: { rowCount?: number; totalRevenue?: string; premium?: number; ordinary?: number },
  expectations: Expectations | undefined,
): CheckResult | null {
  if (!expectations) return null;
  const diffs: Record<string, { expected: unknown; actual: unknown }> = {};
  const want = expectations.rowCounts?.[asset];
  if (want !== undefined && actual.rowCount !== undefined && want !== actual.rowCount)
    diffs.rowCount = { expected: want, actual: actual.rowCount };
  let any = want !== undefined && actual.rowCount !== undefined;
  if (expectations.totalRevenue !== undefined && actual.totalRevenue !== undefined) {
    any = true;
    if (!sameDecimal(expectations.totalRevenue, actual.totalRevenue))
      diffs.totalRevenue = { expected: expectations.totalRevenue, actual: actual.totalRevenue };
  }
  for (const k of ['premium', 'ordinary'] as const) {
    if (expectations[k] !== undefined && actual[k] !== undefined) {
      any = true;
      if (expectations[k] !== actual[k]) diffs[k] = { expected: expectations[k], actual: actual[k] };
    }
  }
  if (!any) return null;
  const passed = Object.keys(diffs).length === 0;
  const found = Object.entries(diffs)
    .map(([k, d]) => `${k} is ${String(d.actual)}, expected ${String(d.expected)}`)
    .join('; ');
  return {
    asset,
    check: EXPECTATION_CHECK.name,
    passed,
    severity: 'ERROR',
    blocking: true,
    description: EXPECTATION_CHECK.description,
    ...(passed ? {} : { message: found }),
    metadata: passed ? { checked: Object.keys(actual) } : { differences: diffs },
  };
}

function sameDecimal(a: string, b: string): boolean {
  const norm = (s: string) => {
    const [i = '0', f = ''] = s.replace(/^(-?)0+(?=\d)/, '$1').split('.');
    return `${i}.${f.padEnd(2, '0')}`;
  };
  return norm(a) === norm(b);
}
