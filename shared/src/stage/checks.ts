import { checkSpec, EXPECTATION_CHECK } from '../assets/graph.js';
import { BottleneckError } from '../errors/index.js';
import type { CheckResult, Expectations } from '../events/index.js';

/**
 * Builds a check result from its declaration: severity and blocking come from the asset graph.
 * `found` says, for a failed check, what was found in words a person reads.
 *
 * @example checkResult('erp_clean', 'price_not_negative', false, { productIds }, `2 products have a negative price: ${listed(productIds)}`)
 */
export function checkResult(asset: string, check: string, passed: boolean, metadata: Record<string, unknown> = {}, found?: string): CheckResult {
  const spec = checkSpec(asset, check);
  return { asset, check, passed, severity: spec.severity, blocking: spec.blocking, description: spec.description, ...(!passed && found ? { message: found } : {}), metadata };
}

/** Items a person can read, bounded: "5017, 6594", or "a, b, c ... and 12 more". */
export function listed(items: readonly unknown[], max = 10): string {
  const shown = items.slice(0, max).map((i) => (typeof i === 'string' || typeof i === 'number' ? String(i) : JSON.stringify(i)));
  return items.length > max ? `${shown.join(', ')} and ${items.length - max} more` : shown.join(', ');
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
  if (want !== undefined && actual.rowCount !== undefined && want !== actual.rowCount) diffs.rowCount = { expected: want, actual: actual.rowCount };
  let any = want !== undefined && actual.rowCount !== undefined;
  if (expectations.totalRevenue !== undefined && actual.totalRevenue !== undefined) {
    any = true;
    if (!sameDecimal(expectations.totalRevenue, actual.totalRevenue)) diffs.totalRevenue = { expected: expectations.totalRevenue, actual: actual.totalRevenue };
  }
  for (const k of ['premium', 'ordinary'] as const) {
    if (expectations[k] !== undefined && actual[k] !== undefined) {
      any = true;
      if (expectations[k] !== actual[k]) diffs[k] = { expected: expectations[k], actual: actual[k] };
    }
  }
  if (!any) return null;
  const passed = Object.keys(diffs).length === 0;
  const found = Object.entries(diffs).map(([k, d]) => `${k} is ${String(d.actual)}, expected ${String(d.expected)}`).join('; ');
  return {
    asset, check: EXPECTATION_CHECK.name, passed, severity: 'ERROR', blocking: true,
    description: EXPECTATION_CHECK.description, ...(passed ? {} : { message: found }), metadata: passed ? { checked: Object.keys(actual) } : { differences: diffs },
  };
}

function sameDecimal(a: string, b: string): boolean {
  const norm = (s: string) => {
    const [i = '0', f = ''] = s.replace(/^(-?)0+(?=\d)/, '$1').split('.');
    return `${i}.${f.padEnd(2, '0')}`;
  };
  return norm(a) === norm(b);
}

/**
 * Throws BN_ERR_CHECK_FAILED (or BN_ERR_EXPECTATION_FAILED) when a blocking ERROR check failed:
 * the stage then emits `failed` and nothing downstream runs. Failed checks are results, not
 * exceptions, until this gate.
 */
export function gate(stage: string, results: readonly CheckResult[]): void {
  const blocking = results.filter((r) => !r.passed && r.blocking && r.severity === 'ERROR');
  if (!blocking.length) return;
  const first = blocking[0]!;
  const summary = blocking.map((r) => `${r.asset}.${r.check}: ${r.message ?? `${r.description}: ${JSON.stringify(r.metadata).slice(0, 300)}`}`).join('; ');
  const code = blocking.every((r) => r.check === EXPECTATION_CHECK.name) ? 'BN_ERR_EXPECTATION_FAILED' : 'BN_ERR_CHECK_FAILED';
  throw new BottleneckError(code, `blocking check failed in stage ${stage}: ${summary}`, {
    asset: first.asset,
    stage,
    details: { failedChecks: blocking.map((r) => `${r.asset}.${r.check}`), checks: results },
  });
}
