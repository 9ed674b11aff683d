import type { ObjectStore } from '../ports/object-store.js';
import type { CurrentPointer } from '../published.js';
import type { StageRecord } from '../runs/record.js';
import { layout } from '../keys.js';
import { monthInfo } from './months.js';
import { lateMonths } from './late.js';
import { deadLetterOf, pendingRunAlertOf, refusedOf, unrecognisedOf } from './records.js';
import { assembleRuns, type RecordedStage } from './runs.js';
import { IndexedRecords } from './indexed.js';
import { byMonth, JsonCache, listSources, PARTITION } from './sources.js';
import { summarize } from './summary.js';
import type {
  AssetHistoryEntry,
  DeadLetterInfo,
  GraphSpec,
  PartitionInfo,
  RefusedEvent,
  RunSummary,
  Snapshot,
  UnrecognisedUpload,
} from './types.js';

export * from './types.js';
export { summarize } from './summary.js';
export { listInWords } from './words.js';
export { isNotFound, UNRECOGNISED_PREFIX, REFUSED_PREFIX } from './sources.js';

/**
 * The catalog: every month, run, asset and check the pipeline ever recorded, rebuilt from the store
 * alone (the run records under runs/, ingest's claims, incoming/, the published pointers, the
 * dead-letter records, the pending alerts, the refused events and the unrecognised uploads). No topic, no service memory: the console derives
 * its API and page from `Catalog.snapshot()`, on any replica, after any restart.
 *
 * @example
 * const catalog = new Catalog(store, { assets: ASSETS, codeVersions });
 * const { partitions } = await catalog.snapshot();
 */

/**
 * Reads the store into a snapshot, in named steps (each in its own module, each tested alone):
 * list the sources (sources.ts), read the records (records.ts), assemble the verified runs
 * (runs.ts), then each month (months.ts). Parsed objects are cached by key and ETag, so a snapshot
 * after a small change reads only what changed.
 */
export class Catalog {
  private readonly json: JsonCache;
  private readonly records: IndexedRecords;
  private last: Snapshot | null = null;

  constructor(
    private readonly store: ObjectStore,
    private readonly graph: GraphSpec,
    private readonly now: () => Date = () => new Date(),
    /** BN_FILES_DUE_DAY: months whose files are missing past that day of the following month are `late`. */
    private readonly o: {
      filesDueDay?: number;
      /** How often the run records themselves are listed to check (and repair) the run index, ms (60 s). */
      verifyMs?: number;
    } = {},
  ) {
    this.json = new JsonCache(store);
    this.records = new IndexedRecords(
      store,
      this.json,
      this.o.verifyMs === undefined ? {} : { verifyMs: this.o.verifyMs },
    );
  }

  /**
   * The next snapshot lists the run records themselves, not only their index (and repairs the
   * index where it differs): what an action decides on must be what the records say.
   */
  checkRecords(): void {
    this.records.checkNext();
  }

  /** Whether the last snapshot holds the run's records as the store has them now (a listing of the run's prefix). */
  runIsCurrent(partition: string, runId: string): Promise<boolean> {
    return this.records.runIsCurrent(partition, runId);
  }

  /** The store as it is now; the previous snapshot when nothing changed. */
  async snapshot(): Promise<Snapshot> {
    const src = await listSources(this.store, () => this.records.list());
    // Lateness changes with the clock too: a snapshot is reused only within the same hour when a due day is set.
    const version = this.o.filesDueDay ? `${src.version}-${this.now().toISOString().slice(0, 13)}` : src.version;
    if (this.last?.version === version) return this.last;
    const read = <T>(l: typeof src.records) => Promise.all(l.map(async (o) => ({ o, v: await this.json.get<T>(o) })));

    const records: RecordedStage[] = (await read<StageRecord>(src.records))
      .filter((x): x is { o: (typeof x)['o']; v: StageRecord } => x.v !== null)
      .map(({ o, v }) => ({ record: v, modified: o.modified }));
    const current = new Map<string, CurrentPointer>();
    for (const { v } of await read<CurrentPointer>(src.pointers)) if (v) current.set(v.partition, v);
    const dead = new Map<string, DeadLetterInfo>();
    for (const { o, v } of await read<unknown>(src.deadLetters)) {
      const d = deadLetterOf(o.key, v);
      if (d) dead.set(d.runId, d.info);
    }
    const alerts = new Map<string, { status: string; attempts: number; at?: string; error?: string }>();
    for (const { v } of await read<unknown>(src.alerts)) {
      const a = pendingRunAlertOf(v);
      if (a) alerts.set(a.runId, a.alert);
    }
    const latestClaims = new Map<string, { runId: string; status: string; claimedAt: string }>();
    for (const [p, objs] of byMonth(src.claims, layout.ingestClaimsRoot)) {
      const last = objs.sort((a, b) => a.key.localeCompare(b.key)).at(-1);
      const c = last ? await this.json.get<{ runId: string; status: string; claimedAt: string }>(last) : null;
      if (c) latestClaims.set(p, c);
    }
    const recordedRefusals = (await read<unknown>(src.refused))
      .map(({ o, v }) => refusedOf(o.key, o.modified, v))
      .filter((r): r is RefusedEvent => r !== null);
    const unrecognisedUploads = (await read<unknown>(src.unrecognised))
      .map(({ v }) => unrecognisedOf(v))
      .filter((u): u is UnrecognisedUpload => u !== null)
      .sort((a, b) => b.seenAt.localeCompare(a.seenAt) || a.key.localeCompare(b.key));

    const { runs, unverified } = assembleRuns(records, current, dead, alerts);
    const refused = [...recordedRefusals, ...unverified].sort(
      (a, b) => b.recordedAt.localeCompare(a.recordedAt) || a.key.localeCompare(b.key),
    );
    const incoming = byMonth(src.incoming, 'incoming/');
    // Months come from what the pipeline verified or was given: runs, files, pointers, claims (a
    // refused event names a month; it does not make one).
    const months = new Set<string>([
      ...runs.map((r) => r.partition),
      ...incoming.keys(),
      ...current.keys(),
      ...latestClaims.keys(),
    ]);
    const info = (p: string) =>
      monthInfo(
        p,
        runs.filter((r) => r.partition === p),
        incoming.get(p) ?? [],
        current.get(p) ?? null,
        latestClaims.get(p) ?? null,
        refused.filter((r) => r.partition === p),
        this.graph,
      );
    const partitions = [...months].sort().map(info);
    if (this.o.filesDueDay) markLate(partitions, current, this.now(), this.o.filesDueDay, info);
    this.last = {
      version,
      builtAt: this.now().toISOString(),
      partitions,
      runs,
      refused,
      unrecognisedUploads,
    };
    return this.last;
  }
}

/**
 * Marks the months late at `now` (status `late`, the words, `late`), and adds the late months the
 * store has nothing for (no file, no run): those no run would ever show.
 */
function markLate(
  partitions: PartitionInfo[],
  current: ReadonlyMap<string, CurrentPointer>,
  now: Date,
  dueDay: number,
  info: (p: string) => PartitionInfo,
): void {
  const present = new Map(
    partitions.map((p) => [p.partition, new Set(p.incoming.filter((f) => f.present).map((f) => f.name))]),
  );
  const late = lateMonths(
    { known: partitions.map((p) => p.partition), present, published: new Set(current.keys()) },
    now,
    dueDay,
  );
  for (const l of late) {
    let p = partitions.find((x) => x.partition === l.partition);
    if (!p) {
      p = info(l.partition);
      partitions.push(p);
    }
    // A run in flight says more than lateness (its files came meanwhile, or it is failing for them).
    if (p.status === 'running') continue;
    p.status = 'late';
    p.words = p.latestRun?.error ? `${l.words}; its latest run failed: ${p.latestRun.error.words}` : l.words;
    p.late = { lateSince: l.lateSince, missing: l.missing };
  }
  partitions.sort((a, b) => a.partition.localeCompare(b.partition));
}

/** Runs of a snapshot, filtered (partition, status), newest first. */
export function filterRuns(s: Snapshot, f: { partition?: string; status?: string }): RunSummary[] {
  return s.runs
    .filter((r) => (!f.partition || r.partition === f.partition) && (!f.status || r.status === f.status))
    .map(summarize);
}

/**
 * An asset's history across months: one entry per run that materialized it or tried to. `status`
 * is `failed` when the run's error names the asset (its compute threw, or a blocking check of it
 * failed), or when its stage (`stage`, the asset's) failed before naming any asset while the asset
 * was not made; `error` then says why in words. A failure that kept the asset from being made has
 * no data version or location (empty). Oldest month first.
 */
export function assetHistory(s: Snapshot, key: string, stage?: string): AssetHistoryEntry[] {
  const out: AssetHistoryEntry[] = [];
  for (const r of s.runs) {
    const m = r.materializations[key];
    if (m?.stage === 'reused') continue;
    const e = r.error;
    const failed = e !== null && (e.asset === key || (!m && !e.asset && stage !== undefined && e.stage === stage));
    if (!m && !failed) continue;
    out.push({
      partition: r.partition,
      runId: r.runId,
      runStatus: r.status,
      startedAt: r.startedAt,
      status: failed ? 'failed' : 'materialized',
      rowCount: m?.metadata.rowCount ?? null,
      dataVersion: m?.dataVersion ?? '',
      location: m?.location ?? '',
      durationMs: m ? m.metadata.durationMs : (r.stages.find((x) => x.stage === e?.stage)?.durationMs ?? null),
      checks: r.checks.filter((c) => c.asset === key),
      error: failed ? e : null,
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
