import { randomBytes } from 'node:crypto';
import { makeEvent, newRunId, stageEventId, type PipelineEvent } from '../events/index.js';
import type { Bus } from '../ports/bus.js';
import type { ObjectStore } from '../ports/object-store.js';
import { readStageRecord } from '../runs/record.js';
import { isNotFound, monthRange, type RunStatus, type Snapshot } from './index.js';

/**
 * What the console (service or `bottleneck ui`) and the CLI can ask of the pipeline: each action
 * publishes trigger events on the bus, as any other trigger; the stages do the rest. The bus is
 * Kafka for the services, the in-memory bus with the stages subscribed for the embedded console.
 */

/** An action refused: no such run (404), or not one that can be re-executed (409). */
export class ActionRefused extends Error {
  constructor(
    message: string,
    readonly status: 404 | 409,
  ) {
    super(message);
  }
}

export const BACKFILLS_PREFIX = 'state/backfills/';

export interface BackfillRecord {
  id: string;
  from: string;
  to: string;
  createdAt: string;
  runs: { partition: string; runId: string }[];
}

export interface BackfillProgress extends BackfillRecord {
  runs: { partition: string; runId: string; status: RunStatus | 'queued' }[];
  done: number;
  total: number;
  status: 'running' | 'done' | 'failed';
}

/** Most months one backfill may cover (20 years). */
export const MAX_BACKFILL_MONTHS = 240;

const trigger = (
  partition: string,
  source: 'console' | 'backfill' | 'cli',
  now: Date,
  runId = newRunId(partition, now),
) =>
  makeEvent(
    'trigger',
    { runId, partition, materializations: {}, checks: [], payload: { source } },
    now,
    stageEventId(runId, 'trigger'),
  );

export class Actions {
  constructor(
    private readonly store: ObjectStore,
    private readonly bus: Bus,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** A new run of a month (its current files in incoming/). */
  async rerun(partition: string, source: 'console' | 'cli' = 'console'): Promise<{ runId: string; partition: string }> {
    const e = trigger(partition, source, this.now());
    await this.bus.publish(e);
    return { runId: e.runId, partition };
  }

  /** One run per month from `from` to `to`; the record under state/backfills/ is written before the triggers. */
  async backfill(from: string, to: string): Promise<BackfillRecord> {
    const months = monthRange(from, to);
    if (months.length > MAX_BACKFILL_MONTHS)
      throw new RangeError(
        `a backfill covers at most ${MAX_BACKFILL_MONTHS} months (${from} to ${to} is ${months.length})`,
      );
    const now = this.now();
    const id = `bf-${now.toISOString().replace(/[-:]/g, '').slice(0, 15)}-${randomBytes(3).toString('hex')}`;
    const events = months.map((p) => trigger(p, 'backfill', now));
    const rec: BackfillRecord = {
      id,
      from,
      to,
      createdAt: now.toISOString(),
      runs: events.map((e) => ({ partition: e.partition, runId: e.runId })),
    };
    await this.store.put(`${BACKFILLS_PREFIX}${id}.json`, JSON.stringify(rec, null, 2) + '\n', {
      contentType: 'application/json',
      ifNoneMatch: true,
    });
    for (const e of events) await this.bus.publish(e);
    return rec;
  }

  /** A backfill's record, or null. */
  async backfillRecord(id: string): Promise<BackfillRecord | null> {
    if (!/^bf-[0-9T]+-[0-9a-f]{6}$/.test(id)) return null;
    try {
      return JSON.parse((await this.store.get(`${BACKFILLS_PREFIX}${id}.json`)).toString('utf8')) as BackfillRecord;
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  /**
   * Re-executes a failed run from the stage that failed (Dagster's "from failure"): that stage's
   * record holds the event it consumed, with the upstream materializations of the run; the same
   * event, under a new run id that names its parent, is published again. Upstream assets are reused,
   * not recomputed; the failed stage and everything downstream run again.
   */
  async reexecute(
    runId: string,
    snapshot: Snapshot,
  ): Promise<{ runId: string; partition: string; fromStage: string; parentRunId: string }> {
    const run = snapshot.runs.find((r) => r.runId === runId);
    if (!run) throw new ActionRefused(`no run ${runId} in the store`, 404);
    if (run.status !== 'failed' || !run.error)
      throw new ActionRefused(
        `run ${runId} did not fail (it is ${run.status}): only a failed run is re-executed from its failed stage; re-run the month instead`,
        409,
      );
    const rec = await readStageRecord(this.store, run.partition, run.runId, run.error.stage);
    if (!rec)
      throw new ActionRefused(
        `the record of stage ${run.error.stage} of run ${runId} is missing: it cannot be re-executed from that stage`,
        409,
      );
    const old = rec.event;
    // Stages accept the assets of their own run and of the run they re-execute (checkProvenance):
    // what this run itself reused from an earlier run cannot be handed on a second time.
    const own = `staging/${run.partition}/${run.runId}/`;
    const foreign = Object.entries(old.materializations)
      .filter(([, m]) => m.location.startsWith('staging/') && !m.location.startsWith(own))
      .map(([k]) => k)
      .sort();
    if (foreign.length)
      throw new ActionRefused(
        `run ${runId} reused ${foreign.join(', ')} from run ${run.trigger.parentRunId ?? 'another run'}: re-execute that run instead, or re-run the month`,
        409,
      );
    const now = this.now();
    const child = newRunId(run.partition, now);
    const {
      id: _id,
      ts: _ts,
      type,
      v: _v,
      runId: _r,
      runStartedAt: _s,
      parentRunId: _p,
      ...rest
    } = old as PipelineEvent & Record<string, unknown>;
    const fields = { ...rest, runId: child, runStartedAt: now.toISOString(), parentRunId: run.runId } as never;
    const event =
      type === 'trigger'
        ? makeEvent(
            'trigger',
            { ...(fields as object), payload: { source: 'reexecution', parentRunId: run.runId } } as never,
            now,
            stageEventId(child, 'trigger'),
          )
        : makeEvent(type, fields, now, stageEventId(child, type));
    await this.bus.publish(event);
    return { runId: child, partition: run.partition, fromStage: run.error.stage, parentRunId: run.runId };
  }
}

/** A backfill's progress from a snapshot: each month's run and its status. */
export function backfillProgress(rec: BackfillRecord, s: Snapshot): BackfillProgress {
  const runs = rec.runs.map((r): BackfillProgress['runs'][number] => ({
    ...r,
    status: s.runs.find((x) => x.runId === r.runId)?.status ?? 'queued',
  }));
  const finished = (st: string) => st === 'published' || st === 'succeeded' || st === 'failed' || st === 'superseded';
  const done = runs.filter((r) => finished(r.status)).length;
  return {
    ...rec,
    runs,
    done,
    total: runs.length,
    status: done < runs.length ? 'running' : runs.some((r) => r.status === 'failed') ? 'failed' : 'done',
  };
}
