import { createHash } from 'node:crypto';
import { isBottleneckError } from '../errors/index.js';
import type { CheckResult, Materialization } from '../events/index.js';
import { INPUT_NAMES, layout, type InputName } from '../keys.js';
import type { ObjectInfo, ObjectStore } from '../ports/object-store.js';
import type { CurrentPointer } from '../published.js';
import { RUNS_PREFIX, type StageRecord } from '../runs/record.js';

/**
 * The catalog: every month, run, asset and check the pipeline ever recorded, rebuilt from the store
 * alone (the run records under runs/, ingest's claims, incoming/, the published pointers, the
 * dead-letter records and the pending alerts). No topic, no service memory: the console derives
 * its API and page from `Catalog.snapshot()`, on any replica, after any restart.
 *
 * @example
 * const catalog = new Catalog(store, { assets: ASSETS, codeVersions });
 * const { partitions } = await catalog.snapshot();
 */

/** What the catalog needs of the asset graph (the declaration in assets/graph.ts). */
export interface GraphSpec {
  assets: readonly {
    key: string;
    stage: string;
    deps: readonly string[];
    description: string;
    kind?: string;
    checks: readonly { name: string; description: string; severity: 'ERROR' | 'WARN'; blocking: boolean }[];
  }[];
  /** Each stage's current code version: a month published by other code shows as stale. */
  codeVersions?: Readonly<Record<string, string | undefined>>;
}

export type RunStatus = 'running' | 'published' | 'succeeded' | 'failed' | 'superseded';
export type PartitionStatus = 'published' | 'failed' | 'running' | 'waiting-for-files' | 'stale';
export type AssetState = 'materialized' | 'failed' | 'running' | 'not-run';

/** The asset stages, in pipeline order; the alerter's record of a failed run is kept beside them. */
export const RUN_STAGES = ['ingest', 'clean', 'merge', 'analytics', 'publisher'] as const;

export interface StageSpan {
  stage: string;
  status: StageRecord['status'];
  consumed: string;
  startedAt: string;
  endedAt: string | null;
  durationMs: number | null;
  codeVersion: string;
}

export interface RunError {
  stage: string;
  code: string;
  message: string;
  asset?: string;
  location?: Record<string, unknown>;
  /** The message and where, in one sentence a person reads. */
  words: string;
}

export interface DeadLetterInfo {
  key: string;
  code?: string;
  message?: string;
  recordedAt?: string;
  alert?: { status: string; attempts: number; at?: string; error?: string };
}

/** One run, as the console shows it: what started it, what it read, what each stage did. */
export interface RunDetail {
  runId: string;
  partition: string;
  status: RunStatus;
  trigger: { source: string; parentRunId?: string; eventId: string };
  startedAt: string;
  endedAt: string | null;
  durationMs: number | null;
  /** The input files the run read: key, ETag (what the trigger pinned) and sha256. */
  inputs: { name: string; key: string; etag?: string; sha256?: string; bytes?: number }[];
  stages: StageSpan[];
  materializations: Record<string, Materialization & { stage: string }>;
  checks: CheckResult[];
  error: RunError | null;
  deadLetter: DeadLetterInfo | null;
  alert: { status: string; attempts: number; at?: string; error?: string } | null;
  published: { current: boolean; manifestKey: string; files: CurrentPointer['files'] } | null;
  /** Runs that re-execute this one. */
  children: string[];
  codeVersion: string | null;
}

export type RunSummary = Omit<RunDetail, 'materializations' | 'checks' | 'inputs' | 'published'> & {
  failedChecks: { WARN: number; ERROR: number };
  published: boolean;
};

export interface PartitionInfo {
  partition: string;
  status: PartitionStatus;
  /** Why, in words ("erp.xlsx and web.xlsx arrived, waiting for liaison.xlsx"). */
  words: string;
  latestRun: RunSummary | null;
  published: { runId: string; publishedAt: string; runStartedAt: string } | null;
  incoming: { name: InputName; present: boolean; etag?: string; modified?: string }[];
  assets: Record<
    string,
    { state: AssetState; rowCount?: number; dataVersion?: string; warnings: number; errors: number }
  >;
  /** The month's figures from its published run (or its latest run that got that far). */
  figures: {
    totalRevenue: string | null;
    premium: number | null;
    ordinary: number | null;
    rowCounts: Record<string, number>;
  };
  runs: number;
  /** Failed checks of the latest run, by severity. */
  failedChecks: { WARN: number; ERROR: number };
}

export interface AssetHistoryEntry {
  partition: string;
  runId: string;
  runStatus: RunStatus;
  startedAt: string;
  rowCount: number | null;
  dataVersion: string;
  location: string;
  durationMs: number;
  checks: CheckResult[];
}

export interface Snapshot {
  /** A hash of every object the snapshot was built from: the API's ETag. */
  version: string;
  builtAt: string;
  partitions: PartitionInfo[];
  runs: RunDetail[];
}

const notFound = (e: unknown) => isBottleneckError(e) && e.code === 'BN_ERR_STORE_NOT_FOUND';

const PARTITION = /^\d{4}-(0[1-9]|1[0-2])$/;

/** Objects under a prefix grouped by their month (the segment after the prefix). */
function byMonth(objects: readonly ObjectInfo[], prefix: string): Map<string, ObjectInfo[]> {
  const out = new Map<string, ObjectInfo[]>();
  for (const o of objects) {
    const p = o.key.slice(prefix.length).split('/')[0] ?? '';
    if (!PARTITION.test(p)) continue;
    const list = out.get(p) ?? [];
    list.push(o);
    out.set(p, list);
  }
  return out;
}

/** "a, b and c" */
export function listInWords(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1] ?? ''}`;
}

/** An error and where it happened, in one sentence (the location added when the message does not name the file). */
function errorWords(e: NonNullable<StageRecord['error']>, stage: string): string {
  const loc = e.location ?? {};
  const where = Object.entries(loc)
    .filter(([, v]) => v !== undefined && v !== null)
    .map(([k, v]) => `${k} ${JSON.stringify(v)}`)
    .join(', ');
  const file = typeof loc.file === 'string' ? loc.file : '';
  return `${stage}${e.asset ? ` (${e.asset})` : ''} failed: ${e.message}${where && !(file && e.message.includes(file)) ? ` [${where}]` : ''}`;
}

/**
 * Reads the store into a snapshot. Parsed objects are cached by key and ETag, so a snapshot after a
 * small change reads only what changed (a 24-month store is a few listings and a few reads).
 */
export class Catalog {
  private readonly cache = new Map<string, { etag: string; value: unknown }>();
  private last: Snapshot | null = null;

  constructor(
    private readonly store: ObjectStore,
    private readonly graph: GraphSpec,
    private readonly now: () => Date = () => new Date(),
  ) {}

  private async json<T>(o: ObjectInfo): Promise<T | null> {
    const hit = this.cache.get(o.key);
    if (hit?.etag === o.etag) return hit.value as T;
    try {
      const value = JSON.parse((await this.store.get(o.key)).toString('utf8')) as T;
      this.cache.set(o.key, { etag: o.etag, value });
      return value;
    } catch (e) {
      if (notFound(e) || e instanceof SyntaxError) return null;
      throw e;
    }
  }

  /** The store as it is now; the previous snapshot when nothing changed. */
  async snapshot(): Promise<Snapshot> {
    const list = (p: string) => this.store.list(p);
    const [runObjs, incomingObjs, extractObjs, deadObjs, claimObjs, alertObjs] = await Promise.all([
      list(RUNS_PREFIX),
      list('incoming/'),
      list('extracts/'),
      list('dead-letter/'),
      list(layout.ingestClaimsRoot),
      list('state/alerts/'),
    ]);
    const pointers = extractObjs.filter((o) => /^extracts\/[^/]+\/_current\.json$/.test(o.key));
    const records = runObjs.filter((o) => o.key.endsWith('.json'));
    const deadLetters = deadObjs.filter((o) => o.key.endsWith('.json'));
    const claims = claimObjs.filter((o) => /\/\d{8}\.json$/.test(o.key));
    const alerts = alertObjs.filter((o) => o.key.endsWith('.json'));
    const version = createHash('sha256')
      .update(
        [records, incomingObjs, pointers, deadLetters, claims, alerts]
          .flat()
          .map((o) => `${o.key}\u0000${o.etag}`)
          .join('\n'),
      )
      .digest('hex')
      .slice(0, 24);
    if (this.last?.version === version) return this.last;

    const stageRecords = (await Promise.all(records.map((o) => this.json<StageRecord>(o)))).filter(
      (r): r is StageRecord => r !== null,
    );
    const current = new Map<string, CurrentPointer>();
    for (const o of pointers) {
      const p = await this.json<CurrentPointer>(o);
      if (p) current.set(p.partition, p);
    }
    const dead = new Map<string, DeadLetterInfo>();
    for (const o of deadLetters) {
      const r = await this.json<{
        runId?: string;
        code?: string;
        message?: string;
        recordedAt?: string;
        alert?: DeadLetterInfo['alert'];
      }>(o);
      if (r?.runId)
        dead.set(r.runId, {
          key: o.key,
          ...(r.code ? { code: r.code } : {}),
          ...(r.message ? { message: r.message } : {}),
          ...(r.recordedAt ? { recordedAt: r.recordedAt } : {}),
          ...(r.alert ? { alert: r.alert } : {}),
        });
    }
    const pendingAlerts = new Map<string, { status: string; attempts: number; at?: string; error?: string }>();
    for (const o of alerts) {
      const a = await this.json<{
        id: string;
        attempts: number;
        state: string;
        lastError?: string;
        nextAttemptAt?: string;
      }>(o);
      if (a?.id.startsWith('run-'))
        pendingAlerts.set(a.id.slice(4), {
          status: a.state === 'sending' ? 'sending' : 'pending',
          attempts: a.attempts,
          ...(a.nextAttemptAt ? { at: a.nextAttemptAt } : {}),
          ...(a.lastError ? { error: a.lastError } : {}),
        });
    }
    const latestClaims = new Map<string, { runId: string; status: string; claimedAt: string }>();
    for (const [p, objs] of byMonth(claims, layout.ingestClaimsRoot)) {
      const last = objs.sort((a, b) => a.key.localeCompare(b.key)).at(-1);
      const c = last ? await this.json<{ runId: string; status: string; claimedAt: string }>(last) : null;
      if (c) latestClaims.set(p, c);
    }

    const runs = this.assembleRuns(stageRecords, current, dead, pendingAlerts);
    const incoming = byMonth(incomingObjs, 'incoming/');
    const months = new Set<string>([
      ...runs.map((r) => r.partition),
      ...incoming.keys(),
      ...current.keys(),
      ...latestClaims.keys(),
    ]);
    const partitions = [...months].sort().map((p) =>
      this.partition(
        p,
        runs.filter((r) => r.partition === p),
        incoming.get(p) ?? [],
        current.get(p) ?? null,
        latestClaims.get(p) ?? null,
      ),
    );
    this.last = { version, builtAt: this.now().toISOString(), partitions, runs };
    return this.last;
  }

  private assembleRuns(
    records: StageRecord[],
    current: Map<string, CurrentPointer>,
    dead: Map<string, DeadLetterInfo>,
    alerts: Map<string, { status: string; attempts: number; at?: string; error?: string }>,
  ): RunDetail[] {
    const byRun = new Map<string, StageRecord[]>();
    for (const r of records) byRun.set(r.runId, [...(byRun.get(r.runId) ?? []), r]);
    const order = (s: string) => {
      const i = (RUN_STAGES as readonly string[]).indexOf(s);
      return i < 0 ? 99 : i;
    };
    const runs: RunDetail[] = [];
    for (const [runId, recs] of byRun) {
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
      for (const [k, m] of Object.entries(first.event.materializations))
        materializations[k] = { ...m, stage: 'reused' };
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
    // Newest first.
    return runs.sort((a, b) => b.startedAt.localeCompare(a.startedAt) || b.runId.localeCompare(a.runId));
  }

  private partition(
    p: string,
    runs: RunDetail[],
    incoming: ObjectInfo[],
    pointer: CurrentPointer | null,
    claim: { runId: string; status: string; claimedAt: string } | null,
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
    } else if (latest?.status === 'failed' && (!publishedRun || latest.startedAt > publishedRun.startedAt)) {
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
              const now = this.graph.codeVersions?.[s.stage];
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
    for (const a of this.graph.assets) {
      const m = source?.materializations[a.key];
      const own = source?.checks.filter((c) => c.asset === a.key && !c.passed) ?? [];
      const warnings = own.filter((c) => c.severity === 'WARN').length;
      const errors = own.filter((c) => c.severity === 'ERROR').length;
      let state: AssetState = 'not-run';
      if (m) state = errors ? 'failed' : 'materialized';
      else if (
        source?.error &&
        (source.error.asset === a.key || (source.error.stage === a.stage && !source.error.asset))
      )
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
      },
      runs: runs.length,
      failedChecks: latest ? failedChecks(latest.checks) : { WARN: 0, ERROR: 0 },
    };
  }
}

function failedChecks(checks: readonly CheckResult[]): { WARN: number; ERROR: number } {
  return {
    WARN: checks.filter((c) => !c.passed && c.severity === 'WARN').length,
    ERROR: checks.filter((c) => !c.passed && c.severity === 'ERROR').length,
  };
}

/** A run without its materializations and checks: what lists show. */
export function summarize(r: RunDetail): RunSummary {
  const { materializations: _m, checks, inputs: _i, published, ...rest } = r;
  return { ...rest, failedChecks: failedChecks(checks), published: published !== null };
}

/** Runs of a snapshot, filtered (partition, status), newest first. */
export function filterRuns(s: Snapshot, f: { partition?: string; status?: string }): RunSummary[] {
  return s.runs
    .filter((r) => (!f.partition || r.partition === f.partition) && (!f.status || r.status === f.status))
    .map(summarize);
}

/** An asset's materialization history across months: one entry per run that materialized it, oldest month first. */
export function assetHistory(s: Snapshot, key: string): AssetHistoryEntry[] {
  const out: AssetHistoryEntry[] = [];
  for (const r of s.runs) {
    const m = r.materializations[key];
    if (!m || m.stage === 'reused') continue;
    out.push({
      partition: r.partition,
      runId: r.runId,
      runStatus: r.status,
      startedAt: r.startedAt,
      rowCount: m.metadata.rowCount ?? null,
      dataVersion: m.dataVersion,
      location: m.location,
      durationMs: m.metadata.durationMs,
      checks: r.checks.filter((c) => c.asset === key),
    });
  }
  return out.sort((a, b) => a.partition.localeCompare(b.partition) || a.startedAt.localeCompare(b.startedAt));
}

/** The months from `from` to `to`, both included (YYYY-MM). */
export function monthRange(from: string, to: string): string[] {
  if (!PARTITION.test(from) || !PARTITION.test(to)) throw new RangeError('months must be YYYY-MM');
  const toIndex = (p: string) => Number(p.slice(0, 4)) * 12 + Number(p.slice(5, 7)) - 1;
  const a = toIndex(from);
  const b = toIndex(to);
  if (b < a) throw new RangeError(`${to} is before ${from}`);
  const out: string[] = [];
  for (let i = a; i <= b; i++) out.push(`${Math.floor(i / 12)}-${String((i % 12) + 1).padStart(2, '0')}`);
  return out;
}

export { notFound as isNotFound };
