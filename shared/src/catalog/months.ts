import type { CheckResult } from '../events/index.js';
import { INPUT_NAMES, layout } from '../keys.js';
import type { ObjectInfo } from '../ports/object-store.js';
import type { CurrentPointer } from '../published.js';
import { summarize } from './summary.js';
import type { AssetState, GraphSpec, PartitionInfo, PartitionStatus, RefusedEvent, RunDetail } from './types.js';
import { listInWords } from './words.js';

/** Failed checks by severity. */
export function failedChecks(checks: readonly CheckResult[]): { WARN: number; ERROR: number } {
  return {
    WARN: checks.filter((c) => !c.passed && c.severity === 'WARN').length,
    ERROR: checks.filter((c) => !c.passed && c.severity === 'ERROR').length,
  };
}

/**
 * One month as the console shows it, from its verified runs (newest first by when the store
 * recorded them), its files in incoming/, its published pointer, its latest claim and the events
 * refused for it (counted, never runs). Its status and latest run come from the runs alone: a
 * later published run clears `failed`.
 */
export function monthInfo(
  p: string,
  runs: readonly RunDetail[],
  incoming: readonly ObjectInfo[],
  pointer: CurrentPointer | null,
  claim: { runId: string; status: string; claimedAt: string } | null,
  refused: readonly RefusedEvent[],
  graph: GraphSpec,
): PartitionInfo {
  const files = INPUT_NAMES.map((n) => {
    const o = incoming.find((x) => x.key === layout.incoming(p, n));
    return { name: n, present: Boolean(o), ...(o ? { etag: o.etag, modified: o.modified.toISOString() } : {}) };
  });
  const latest = runs[0] ?? null;
  const publishedRun = pointer ? (runs.find((r) => r.runId === pointer.runId) ?? null) : null;
  const arrived = files.filter((f) => f.present).map((f) => `${f.name}.xlsx`);
  const missing = files.filter((f) => !f.present).map((f) => `${f.name}.xlsx`);
  let status: PartitionStatus;
  let words: string;
  if (latest?.status === 'running' || (claim && !runs.some((r) => r.runId === claim.runId))) {
    status = 'running';
    const r = latest?.status === 'running' ? latest : null;
    const at = r
      ? (r.stages
          .filter((s) => s.status === 'running')
          .map((s) => s.stage)
          .at(-1) ?? r.stages.at(-1)?.stage)
      : undefined;
    words = r
      ? `run ${r.runId} in flight${at ? ` (${at})` : ''}`
      : `run ${claim?.runId ?? ''} triggered, not started yet`;
  } else if (missing.length && !pointer && (!latest || latest.status !== 'failed')) {
    status = 'waiting-for-files';
    words = arrived.length
      ? `${listInWords(arrived)} arrived, waiting for ${listInWords(missing)}`
      : `no file yet, waiting for ${listInWords(missing)}`;
  } else if (latest?.status === 'failed' && (!publishedRun || latest.recordedAt > publishedRun.recordedAt)) {
    status = 'failed';
    words = latest.error?.words ?? `run ${latest.runId} failed`;
    if (missing.length)
      words += `; ${arrived.length ? `${listInWords(arrived)} arrived, ` : ''}waiting for ${listInWords(missing)}`;
  } else if (pointer) {
    const changed = publishedRun
      ? files
          .filter((f) => {
            const input = publishedRun.inputs.find((i) => i.name === `${f.name}.xlsx`);
            return !f.present || (input?.etag !== undefined && f.etag !== input.etag);
          })
          .map((f) => `${f.name}.xlsx`)
      : [];
    const codeChanged = publishedRun
      ? publishedRun.stages
          .filter((s) => {
            const now = graph.codeVersions?.[s.stage];
            return now !== undefined && s.codeVersion !== 'unknown' && s.codeVersion !== now;
          })
          .map((s) => s.stage)
      : [];
    if (changed.length || codeChanged.length) {
      status = 'stale';
      words = [
        changed.length ? `${listInWords(changed)} changed in incoming/ since the published run ${pointer.runId}` : '',
        codeChanged.length
          ? `the code of ${listInWords(codeChanged)} changed since the published run ${pointer.runId}`
          : '',
      ]
        .filter(Boolean)
        .join('; ');
    } else {
      status = 'published';
      words = `published by run ${pointer.runId} at ${pointer.publishedAt}`;
    }
  } else if (!missing.length && !latest) {
    status = 'stale';
    words = `${listInWords(arrived)} arrived; no run yet`;
  } else {
    status = latest?.status === 'failed' ? 'failed' : 'stale';
    words = latest?.error?.words ?? `latest run ${latest?.runId ?? ''} ${latest?.status ?? ''}, nothing published`;
  }
  const source = latest ?? null;
  const assets: PartitionInfo['assets'] = {};
  for (const a of graph.assets) {
    const m = source?.materializations[a.key];
    const own = source?.checks.filter((c) => c.asset === a.key && !c.passed) ?? [];
    const warnings = own.filter((c) => c.severity === 'WARN').length;
    const errors = own.filter((c) => c.severity === 'ERROR').length;
    let state: AssetState = 'not-run';
    if (m) state = errors ? 'failed' : 'materialized';
    else if (source?.error && (source.error.asset === a.key || (source.error.stage === a.stage && !source.error.asset)))
      state = 'failed';
    else if (errors) state = 'failed';
    else if (source?.status === 'running' && source.stages.some((s) => s.stage === a.stage && s.status === 'running'))
      state = 'running';
    assets[a.key] = {
      state,
      ...(m?.metadata.rowCount !== undefined ? { rowCount: m.metadata.rowCount } : {}),
      ...(m ? { dataVersion: m.dataVersion } : {}),
      warnings,
      errors,
    };
  }
  const figRun = publishedRun ?? runs.find((r) => r.materializations.merged_with_revenue) ?? null;
  const fm = figRun?.materializations ?? {};
  const rowCounts: Record<string, number> = {};
  for (const [k, m] of Object.entries(fm)) if (m.metadata.rowCount !== undefined) rowCounts[k] = m.metadata.rowCount;
  return {
    partition: p,
    status,
    words,
    latestRun: latest ? summarize(latest) : null,
    published: pointer
      ? { runId: pointer.runId, publishedAt: pointer.publishedAt, runStartedAt: pointer.runStartedAt }
      : null,
    incoming: files,
    assets,
    figures: {
      totalRevenue:
        typeof fm.merged_with_revenue?.metadata.totalRevenue === 'string'
          ? fm.merged_with_revenue.metadata.totalRevenue
          : null,
      premium: fm.premium_wines?.metadata.rowCount ?? null,
      ordinary: fm.ordinary_wines?.metadata.rowCount ?? null,
      rowCounts,
      monthOverMonth: (figRun?.checks ?? [])
        .filter((c) => !c.passed && typeof c.metadata.previousMonth === 'string')
        .map((c) => ({
          check: c.check,
          previousMonth: c.metadata.previousMonth as string,
          message: c.message ?? c.description,
        })),
    },
    runs: runs.length,
    failedChecks: latest ? failedChecks(latest.checks) : { WARN: 0, ERROR: 0 },
    refused: { count: refused.length, latest: refused.slice(0, 5) },
  };
}
