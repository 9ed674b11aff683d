import { isBottleneckError } from '../errors/index.js';
import type { CheckResult, Materialization, PipelineEvent } from '../events/index.js';
import type { ObjectStore } from '../ports/object-store.js';
import { indexStageRecord } from './run-index.js';

/**
 * What a run leaves in the store, stage by stage: the durable run record that survives restarts of
 * every service and the expiry of every topic. Each stage writes its own object (no two writers
 * share one): runs/<partition>/<run-id>/<stage>.json, when it starts and when it ends. The catalog
 * (catalog.ts) and the console are rebuilt from these objects alone.
 */
export interface StageRecord {
  runId: string;
  partition: string;
  stage: string;
  status: 'running' | 'succeeded' | 'failed' | 'superseded' | 'skipped';
  /** When the run started (its trigger's time). */
  runStartedAt: string;
  /** What started this stage: the event it consumed (for ingest, the trigger: its source, and the run it re-executes). */
  consumed: { id: string; type: string; ts: string; source?: string; parentRunId?: string };
  /** The event itself: what re-execution from this stage publishes again. */
  event: PipelineEvent;
  startedAt: string;
  endedAt?: string;
  durationMs?: number;
  emitted: { id: string; type: string }[];
  /** What this stage materialized and checked (not what it received). */
  materializations: Record<string, Materialization>;
  checks: CheckResult[];
  error?: { code: string; message: string; retriable: boolean; asset?: string; location?: Record<string, unknown> };
  /** The pipeline's code version when the stage ran (a published run made by older code is stale). */
  codeVersion: string;
}

export const RUNS_PREFIX = 'runs/';

export const runRecordKey = (partition: string, runId: string, stage: string) =>
  `${RUNS_PREFIX}${partition}/${runId}/${stage}.json`;

/**
 * Writes a stage's record (its own object: no other writer), then adds it to its month's run index
 * (run-index.ts). The index is derived data: when its update fails or the process stops between the
 * two, the record stands and the catalog repairs the index from the records.
 */
export async function writeStageRecord(store: ObjectStore, r: StageRecord): Promise<void> {
  const key = runRecordKey(r.partition, r.runId, r.stage);
  const body = JSON.stringify(r) + '\n';
  await store.put(key, body, { contentType: 'application/json' });
  await indexStageRecord(store, key, r, body).catch(() => undefined);
}

/** A stage's record, or null. */
export async function readStageRecord(
  store: ObjectStore,
  partition: string,
  runId: string,
  stage: string,
): Promise<StageRecord | null> {
  try {
    return JSON.parse((await store.get(runRecordKey(partition, runId, stage))).toString('utf8')) as StageRecord;
  } catch (e) {
    if (isBottleneckError(e) && e.code === 'BN_ERR_STORE_NOT_FOUND') return null;
    throw e;
  }
}

/** The materializations and checks an emitted event adds to the event a stage consumed: what the stage did. */
export function ownPart(
  consumed: PipelineEvent,
  emitted: PipelineEvent,
): { materializations: Record<string, Materialization>; checks: CheckResult[] } {
  const materializations = Object.fromEntries(
    Object.entries(emitted.materializations).filter(([k, m]) => {
      const before = consumed.materializations[k];
      return before?.location !== m.location || before.dataVersion !== m.dataVersion;
    }),
  );
  const seen = new Set(consumed.checks.map((c) => `${c.asset}.${c.check}`));
  return { materializations, checks: emitted.checks.filter((c) => !seen.has(`${c.asset}.${c.check}`)) };
}
