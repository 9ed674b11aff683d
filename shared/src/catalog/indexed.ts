import type { ObjectInfo, ObjectStore } from '../ports/object-store.js';
import { RUNS_PREFIX, type StageRecord } from '../runs/record.js';
import {
  RUN_INDEX_PREFIX,
  newestGeneration,
  parseMonthIndex,
  repairMonthIndex,
  type IndexEntry,
  type MonthIndex,
} from '../runs/run-index.js';
import { byMonth, type JsonCache } from './sources.js';

/**
 * The run records a snapshot is built from, through the run index (runs/run-index.ts): one listing
 * of `state/index/runs/` (a few objects a month) and a read of each month's index that changed,
 * instead of a listing of every record under runs/. The records stay the truth: the first listing,
 * and one every `verifyMs` after, lists runs/ itself, uses what it finds, and repairs each month's
 * index that says otherwise (a record whose index update was lost to a crash, a record deleted, an
 * index missing or unreadable). A month whose index cannot be read is verified at once.
 */
export class IndexedRecords {
  private verifiedAt = -Infinity;
  private readonly indexes = new Map<string, { etag: string; index: MonthIndex | null }>();
  /** The last listing's records: key to ETag. */
  private last = new Map<string, string>();

  constructor(
    private readonly store: ObjectStore,
    private readonly json: JsonCache,
    private readonly o: { verifyMs?: number; clock?: () => number } = {},
  ) {}

  private get now() {
    return (this.o.clock ?? Date.now)();
  }

  /**
   * Whether the last listing holds a run's records as the store has them now (one small listing of
   * the run's own prefix): false when a record of it was written, replaced or deleted since.
   */
  async runIsCurrent(partition: string, runId: string): Promise<boolean> {
    const prefix = `${RUNS_PREFIX}${partition}/${runId}/`;
    const now = (await this.store.list(prefix)).filter((o) => o.key.endsWith('.json'));
    const known = [...this.last].filter(([k]) => k.startsWith(prefix));
    return now.length === known.length && now.every((o) => this.last.get(o.key) === o.etag);
  }

  /** The next listing goes to the records themselves (before an action: it acts on what the records say). */
  checkNext(): void {
    this.verifiedAt = -Infinity;
  }

  /** The run records (`runs/<month>/<run>/<stage>.json`) as a listing would give them; their content is in the JSON cache. */
  async list(): Promise<ObjectInfo[]> {
    if (this.now - this.verifiedAt >= (this.o.verifyMs ?? 60_000)) return this.verify();
    const listed = await this.store.list(RUN_INDEX_PREFIX);
    const out: ObjectInfo[] = [];
    for (const [month, objs] of byMonth(listed, RUN_INDEX_PREFIX)) {
      const newest = newestGeneration(objs);
      if (!newest) continue;
      const index = await this.read(newest, month);
      // Unreadable, or deleted behind a newer generation since the listing: the records decide.
      if (!index) return this.verify();
      for (const [key, e] of Object.entries(index.entries)) out.push(this.seed(key, e));
    }
    return this.remember(out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)));
  }

  private remember(l: ObjectInfo[]): ObjectInfo[] {
    this.last = new Map(l.map((o) => [o.key, o.etag]));
    return l;
  }

  /** Lists runs/ (the truth), answers with it, and repairs every month's index that differs. */
  async verify(): Promise<ObjectInfo[]> {
    const listedAt = new Date();
    const [records, indexObjs] = await Promise.all([
      this.store.list(RUNS_PREFIX).then((l) => l.filter((o) => o.key.endsWith('.json'))),
      this.store.list(RUN_INDEX_PREFIX),
    ]);
    const recordsBy = byMonth(records, RUNS_PREFIX);
    const indexBy = byMonth(indexObjs, RUN_INDEX_PREFIX);
    for (const month of new Set([...recordsBy.keys(), ...indexBy.keys()])) {
      const objs = recordsBy.get(month) ?? [];
      const newest = newestGeneration(indexBy.get(month) ?? []);
      const index = newest ? await this.read(newest, month) : null;
      const agrees =
        index !== null &&
        Object.keys(index.entries).length === objs.length &&
        objs.every((o) => index.entries[o.key]?.etag === o.etag);
      // The index says what the records say: their content is taken from it (one read a month, not one a record).
      if (agrees) {
        for (const [key, e] of Object.entries(index.entries)) this.seed(key, e);
        continue;
      }
      const truth = new Map<string, IndexEntry>();
      for (const o of objs) {
        const record = await this.json.get<StageRecord>(o);
        if (record) truth.set(o.key, { etag: o.etag, bytes: o.bytes, modified: o.modified.toISOString(), record });
      }
      // Derived data: a console that may not write (or a store that refuses now) still answers from the records.
      await repairMonthIndex(this.store, month, truth, listedAt).catch(() => undefined);
    }
    this.verifiedAt = this.now;
    return this.remember(records);
  }

  private async read(o: ObjectInfo, month: string): Promise<MonthIndex | null> {
    const hit = this.indexes.get(o.key);
    if (hit?.etag === o.etag) return hit.index;
    let index: MonthIndex | null;
    try {
      index = parseMonthIndex(await this.store.get(o.key), month);
    } catch {
      index = null;
    }
    // One generation a month is read at a time: the cache keeps the newest only.
    for (const k of this.indexes.keys()) if (k.startsWith(`${RUN_INDEX_PREFIX}${month}/`)) this.indexes.delete(k);
    this.indexes.set(o.key, { etag: o.etag, index });
    return index;
  }

  private seed(key: string, e: IndexEntry): ObjectInfo {
    const info: ObjectInfo = { key, etag: e.etag, bytes: e.bytes, modified: new Date(e.modified) };
    this.json.seed(info, e.record);
    return info;
  }
}
