import type { CheckResult } from '../events/index.js';
import type { RunDetail, RunSummary } from './types.js';

function failed(checks: readonly CheckResult[]): { WARN: number; ERROR: number } {
  return {
    WARN: checks.filter((c) => !c.passed && c.severity === 'WARN').length,
    ERROR: checks.filter((c) => !c.passed && c.severity === 'ERROR').length,
  };
}

/** A run without its materializations and checks: what lists show. */
export function summarize(r: RunDetail): RunSummary {
  const { materializations: _m, checks, inputs: _i, published, ...rest } = r;
  return { ...rest, failedChecks: failed(checks), published: published !== null };
}
