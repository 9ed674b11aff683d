import type { CheckResult } from '../events/index.js';
import { INPUT_NAMES, layout } from '../keys.js';
import type { CurrentPointer } from '../published.js';
import type { StageRecord } from '../runs/record.js';
import { listInWords } from './words.js';
import {
  RUN_STAGES,
  type DeadLetterInfo,
  type RefusedEvent,
  type RunDetail,
  type RunStatus,
  type StageSpan,
} from './types.js';

/** A stage record and when the store last wrote it (its listing's last-modified). */
export interface RecordedStage {
  record: StageRecord;
  modified: Date;
}

/** Newest first by when the store recorded them; the run id breaks a tie. */
export function byRecordedDesc(
  a: { recordedAt: string; runId: string },
  b: { recordedAt: string; runId: string },
): number {
  return b.recordedAt.localeCompare(a.recordedAt) || b.runId.localeCompare(a.runId);
}

/**
 * The runs the pipeline itself started: a run whose records include one that consumed a trigger
 * (ingest took it up, from a claim or an action), or a re-execution (its first stage consumed an
 * event naming a parent run) of such a run of the same month. Records of any other run come from
 * an event no stage of ours made: they are refused events, never runs.
 */
export function verifiedRuns(byRun: ReadonlyMap<string, readonly StageRecord[]>): Set<string> {
  const ok = new Set<string>();
  for (const [runId, recs] of byRun) if (recs.some((r) => r.consumed.type === 'trigger')) ok.add(runId);
  // Re-executions, chained (a re-execution of a re-execution): until nothing changes.
  for (let changed = true; changed;) {
    changed = false;
    for (const [runId, recs] of byRun) {
      if (ok.has(runId)) continue;
      const parent = recs.map((r) => r.consumed.parentRunId ?? r.event.parentRunId).find(Boolean);
      const partition = recs[0]?.partition;
      if (parent && ok.has(parent) && byRun.get(parent)?.[0]?.partition === partition) {
        ok.add(runId);
        changed = true;
      }
    }
  }
  return ok;
}

/** An error and where it happened, in one sentence (the location added when the message does not name the file). */
export function errorWords(e: NonNullable<StageRecord['error']>, stage: string): string {
  const loc = e.location ?? {};
  const where = Object.entries(loc)
    .filter(([, v]) => v !== undefined && v !== null)
    .map(([k, v]) => `${k} ${JSON.stringify(v)}`)
    .join(', ');
  const file = typeof loc.file === 'string' ? loc.file : '';
  return `${stage}${e.asset ? ` (${e.asset})` : ''} failed: ${e.message}${where && !(file && e.message.includes(file)) ? ` [${where}]` : ''}`;
}

/**
 * The runs of the stage records: each with its status, inputs, stage spans, materializations,
 * checks, error, dead-letter record and alert; newest first by when the store recorded them. Runs
 * no stage of the pipeline started come back apart, as refused events.
 */
export function assembleRuns(
  records: readonly RecordedStage[],
  current: ReadonlyMap<string, CurrentPointer>,
  dead: ReadonlyMap<string, DeadLetterInfo>,
  alerts: ReadonlyMap<string, { status: string; attempts: number; at?: string; error?: string }>,
): { runs: RunDetail[]; unverified: RefusedEvent[] } {
  const byRun = new Map<string, StageRecord[]>();
  const recordedAt = new Map<string, string>();
  for (const { record: r, modified } of records) {
    byRun.set(r.runId, [...(byRun.get(r.runId) ?? []), r]);
    const at = modified.toISOString();
    const seen = recordedAt.get(r.runId);
    if (!seen || at < seen) recordedAt.set(r.runId, at);
  }
  const verified = verifiedRuns(byRun);
  const order = (s: string) => {
    const i = (RUN_STAGES as readonly string[]).indexOf(s);
    return i < 0 ? 99 : i;
  };
  const runs: RunDetail[] = [];
  const unverified: RefusedEvent[] = [];
  for (const [runId, recs] of byRun) {
    const at = recordedAt.get(runId) ?? '';
    if (!verified.has(runId)) {
      const r0 = recs[0];
      if (r0)
        unverified.push({
          kind: 'unverified-run',
          partition: r0.partition,
          eventId: r0.consumed.id,
          eventType: r0.consumed.type,
          runId,
          why: `no stage of the pipeline started run ${runId}: ${listInWords(recs.map((r) => r.stage))} recorded it from a ${r0.consumed.type} event, and no ingest record (trigger) or re-executed run of ${r0.partition} comes before it`,
          recordedAt: at,
          key: `runs/${r0.partition}/${runId}/`,
        });
      continue;
    }
    recs.sort((a, b) => order(a.stage) - order(b.stage) || a.startedAt.localeCompare(b.startedAt));
    const first = recs[0];
    if (!first) continue;
    const own = recs.filter((r) => r.stage !== 'alerter');
    const stages: StageSpan[] = recs.map((r) => ({
      stage: r.stage,
      status: r.status,
      consumed: r.consumed.type,
      startedAt: r.startedAt,
      endedAt: r.endedAt ?? null,
      durationMs: r.durationMs ?? null,
      codeVersion: r.codeVersion,
    }));
    const materializations: RunDetail['materializations'] = {};
    // The assets the run reused (a re-execution) come with the event its first stage consumed.
    for (const [k, m] of Object.entries(first.event.materializations)) materializations[k] = { ...m, stage: 'reused' };
    const checks: CheckResult[] = [...first.event.checks];
    for (const r of own) {
      for (const [k, m] of Object.entries(r.materializations)) materializations[k] = { ...m, stage: r.stage };
      for (const c of r.checks) if (!checks.some((x) => x.asset === c.asset && x.check === c.check)) checks.push(c);
    }
    const failedRec = own.find((r) => r.status === 'failed');
    const pointer = current.get(first.partition);
    const publisherDone = own.some((r) => r.stage === 'publisher' && r.status === 'succeeded');
    let status: RunStatus;
    if (failedRec) status = 'failed';
    else if (own.some((r) => r.status === 'superseded')) status = 'superseded';
    else if (own.some((r) => r.status === 'running')) status = 'running';
    else if (publisherDone)
      status =
        pointer?.runId === runId || own.some((r) => r.emitted.some((e) => e.type === 'published'))
          ? 'published'
          : 'succeeded';
    else status = 'running';
    const ends = recs
      .map((r) => r.endedAt)
      .filter((x): x is string => Boolean(x))
      .sort();
    const endedAt = status === 'running' ? null : (ends.at(-1) ?? null);
    const startedAt = first.runStartedAt;
    const trig = first.consumed;
    const parentRunId = trig.parentRunId ?? first.event.parentRunId;
    const pins = first.event.type === 'trigger' ? first.event.payload.files : undefined;
    const inputs = INPUT_NAMES.map((n) => {
      const m = materializations[`raw_${n}`];
      const pin = pins?.[n];
      return {
        name: `${n}.xlsx`,
        key: m?.location ?? pin?.key ?? layout.incoming(first.partition, n),
        ...(typeof m?.metadata.etag === 'string' ? { etag: m.metadata.etag } : pin ? { etag: pin.etag } : {}),
        ...(m ? { sha256: m.dataVersion } : {}),
        ...(m?.metadata.bytes !== undefined ? { bytes: m.metadata.bytes } : {}),
      };
    });
    const dl = dead.get(runId) ?? null;
    const alert = alerts.get(runId) ?? dl?.alert ?? null;
    runs.push({
      runId,
      partition: first.partition,
      status,
      recordedAt: at,
      trigger: {
        source: trig.source ?? (parentRunId ? 'reexecution' : 'unknown'),
        ...(parentRunId ? { parentRunId } : {}),
        eventId: trig.id,
      },
      startedAt,
      endedAt,
      durationMs: endedAt ? Date.parse(endedAt) - Date.parse(startedAt) : null,
      inputs,
      stages,
      materializations,
      checks,
      error: failedRec?.error
        ? { stage: failedRec.stage, ...failedRec.error, words: errorWords(failedRec.error, failedRec.stage) }
        : null,
      deadLetter: dl,
      alert,
      published:
        pointer?.runId === runId ? { current: true, manifestKey: pointer.manifestKey, files: pointer.files } : null,
      children: [],
      codeVersion: own.at(-1)?.codeVersion ?? null,
    });
  }
  for (const r of runs)
    if (r.trigger.parentRunId) runs.find((p) => p.runId === r.trigger.parentRunId)?.children.push(r.runId);
  // Newest first, by when the store recorded them.
  return { runs: runs.sort(byRecordedDesc), unverified };
}
