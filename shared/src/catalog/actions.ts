import { randomBytes } from 'node:crypto';
import { makeEvent, newRunId, stageEventId, type PipelineEvent } from '../events/index.js';
import type { Bus } from '../ports/bus.js';
import type { ObjectStore } from '../ports/object-store.js';
import { INPUT_NAMES, layout, type InputName } from '../keys.js';
import { readStageRecord } from '../runs/record.js';
import { changedInputs, failedOnTheseFiles, knownBad } from './advice.js';
import { isNotFound, listInWords, monthRange, type RunStatus, type Snapshot } from './index.js';
import { Outbox, type Submitted } from './outbox.js';

/**
 * What the console (service or `bottleneck ui`) and the CLI can ask of the pipeline: each action
 * publishes trigger events on the bus, as any other trigger, through the console's outbox
 * (outbox.ts: recorded first, sent again until the bus takes them); the stages do the rest. The
 * bus is Kafka for the services, the in-memory bus with the stages subscribed for the embedded
 * console. An action that cannot succeed is refused in words (409) before anything is sent: a
 * month without its files, files a run already refused, a re-execution whose inputs changed.
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
  /** Months not run, and why (files missing, dismissed, files already refused). */
  skipped?: { partition: string; missing?: string[]; why: string }[];
}

export interface BackfillProgress extends BackfillRecord {
  runs: { partition: string; runId: string; status: RunStatus | 'queued' }[];
  done: number;
  total: number;
  status: 'running' | 'done' | 'failed';
}

/** Most months one backfill may cover (20 years). */
export const MAX_BACKFILL_MONTHS = 240;

type Pins = Record<InputName, { key: string; etag: string }>;

const trigger = (
  partition: string,
  source: 'console' | 'backfill' | 'cli' | 'upload',
  now: Date,
  files?: Pins,
  runId = newRunId(partition, now),
  backfillId?: string,
) =>
  makeEvent(
    'trigger',
    {
      runId,
      partition,
      materializations: {},
      checks: [],
      payload: { source, ...(files ? { files } : {}), ...(backfillId ? { backfillId } : {}) },
    },
    now,
    stageEventId(runId, 'trigger'),
  );

/** Where the month's files stand: pinned versions when all three are there, else which are missing. */
async function monthFiles(store: ObjectStore, partition: string): Promise<{ pins: Pins } | { missing: string[] }> {
  const objects = await store.list(layout.incomingPrefix(partition));
  const found = INPUT_NAMES.map((n) => [n, objects.find((o) => o.key === layout.incoming(partition, n))] as const);
  const missing = found.filter(([, o]) => !o).map(([n]) => `${n}.xlsx`);
  if (missing.length) return { missing };
  return {
    pins: Object.fromEntries(found.map(([n, o]) => [n, { key: o?.key ?? '', etag: o?.etag ?? '' }])) as Pins,
  };
}

export interface ActionOptions {
  now?: () => Date;
  /** How long an action waits for the bus before answering "pending" (the outbox sends it later), ms. */
  waitMs?: number;
  /** Each stage's current code version: files a run refused may pass under new code. */
  codeVersions?: Readonly<Record<string, string | undefined>>;
}

export class Actions {
  readonly outbox: Outbox;
  private readonly now: () => Date;

  constructor(
    private readonly store: ObjectStore,
    bus: Bus,
    private readonly o: ActionOptions = {},
  ) {
    this.now = o.now ?? (() => new Date());
    this.outbox = new Outbox(store, bus, { now: this.now, ...(o.waitMs !== undefined ? { waitMs: o.waitMs } : {}) });
  }

  /**
   * A new run of a month from its files now in incoming/ (pinned: the run reads those versions).
   * Refused (409, in words) when a file is missing, or when a run already failed on these very
   * files for bad data (a snapshot tells): another attempt would only add a dead-letter record and a mail.
   */
  async rerun(
    partition: string,
    source: 'console' | 'cli' | 'upload' = 'console',
    snapshot?: Snapshot,
  ): Promise<{ runId: string; partition: string } & Submitted> {
    const files = await monthFiles(this.store, partition);
    if ('missing' in files)
      throw new ActionRefused(
        `${partition} cannot run: ${listInWords(files.missing)} ${files.missing.length > 1 ? 'are' : 'is'} missing from incoming/${partition}/ (a month needs erp.xlsx, web.xlsx and liaison.xlsx); drop ${files.missing.length > 1 ? 'them' : 'it'} there, or dismiss the month`,
        409,
      );
    const bad = snapshot ? knownBad(snapshot, partition, this.o.codeVersions) : null;
    if (bad && sameFiles(bad, files.pins))
      throw new ActionRefused(
        `${partition} is not run again: run ${bad.runId} already failed on these very files (${bad.error?.words ?? 'failed'}); fix the export and drop the new file in incoming/${partition}/`,
        409,
      );
    const e = trigger(partition, source, this.now(), files.pins);
    const r = await this.outbox.submit(source === 'upload' ? 'watch' : 'rerun', [e]);
    return { runId: e.runId, partition, ...r };
  }

  /**
   * One run per month from `from` to `to` that has its three files (the others are skipped, with
   * which files they miss); the record under state/backfills/ is written before the triggers.
   */
  async backfill(
    from: string,
    to: string,
    o: { skip?: ReadonlyMap<string, string>; snapshot?: Snapshot } = {},
  ): Promise<BackfillRecord & Partial<Submitted>> {
    const months = monthRange(from, to);
    if (months.length > MAX_BACKFILL_MONTHS)
      throw new RangeError(
        `a backfill covers at most ${MAX_BACKFILL_MONTHS} months (${from} to ${to} is ${months.length})`,
      );
    const now = this.now();
    const id = `bf-${now.toISOString().replace(/[-:]/g, '').slice(0, 15)}-${randomBytes(3).toString('hex')}`;
    const skipped: NonNullable<BackfillRecord['skipped']> = [];
    const events: PipelineEvent[] = [];
    for (const p of months) {
      const why = o.skip?.get(p);
      if (why) {
        skipped.push({ partition: p, why });
        continue;
      }
      const files = await monthFiles(this.store, p);
      if ('missing' in files) {
        skipped.push({
          partition: p,
          missing: files.missing,
          why: `${listInWords(files.missing)} missing from incoming/${p}/`,
        });
        continue;
      }
      const bad = o.snapshot ? knownBad(o.snapshot, p, this.o.codeVersions) : null;
      if (bad && sameFiles(bad, files.pins)) {
        skipped.push({ partition: p, why: `run ${bad.runId} already failed on these very files` });
        continue;
      }
      events.push(trigger(p, 'backfill', now, files.pins, undefined, id));
    }
    const rec: BackfillRecord = {
      id,
      from,
      to,
      createdAt: now.toISOString(),
      runs: events.map((e) => ({ partition: e.partition, runId: e.runId })),
      skipped,
    };
    await this.store.put(`${BACKFILLS_PREFIX}${id}.json`, JSON.stringify(rec, null, 2) + '\n', {
      contentType: 'application/json',
      ifNoneMatch: true,
    });
    if (!events.length) return rec;
    const r = await this.outbox.submit('backfill', events);
    return { ...rec, pending: r.pending };
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
  ): Promise<{ runId: string; partition: string; fromStage: string; parentRunId: string } & Submitted> {
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
    const month = snapshot.partitions.find((p) => p.partition === run.partition);
    const changed = month ? changedInputs(run, month) : [];
    if (changed.length)
      throw new ActionRefused(
        `run ${runId} is not re-executed from ${run.error.stage}: ${listInWords(changed)} changed in incoming/${run.partition}/ since it read ${changed.length > 1 ? 'them' : 'it'}, and a re-execution reuses the old versions; re-run the month instead (it reads the new files)`,
        409,
      );
    if (month && failedOnTheseFiles(run, month, this.o.codeVersions))
      throw new ActionRefused(
        `run ${runId} is not re-executed: it failed on its data (${run.error.words}) and the files are unchanged, so it would fail the same way; fix the export and drop the new file in incoming/${run.partition}/, then re-run the month`,
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
    const r = await this.outbox.submit('reexecution', [event]);
    return { runId: child, partition: run.partition, fromStage: run.error.stage, parentRunId: run.runId, ...r };
  }
}

/** Whether the run read exactly these versions of the three files. */
function sameFiles(run: Snapshot['runs'][number], pins: Pins): boolean {
  return INPUT_NAMES.every((n) => run.inputs.find((i) => i.name === `${n}.xlsx`)?.etag === pins[n].etag);
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
