import { isBottleneckError } from '../errors/index.js';
import type { ObjectInfo, ObjectStore } from '../ports/object-store.js';
import { RUNS_PREFIX, type StageRecord } from './record.js';

/**
 * The run index: derived data the run recorder keeps beside the run records, so the console reads
 * one small object per month instead of listing every record in the store. The records under
 * runs/ stay the truth: the index is checked against them (and repaired from them) whenever the
 * catalog lists them, and a month whose index is missing or unreadable is rebuilt from its records.
 *
 * Layout: `state/index/runs/<month>/<generation>.json`, each generation the whole month (every
 * record's key, ETag, last-modified and content). A writer reads the newest generation, adds its
 * record and writes the next one with If-None-Match (`ifNoneMatch`): of two writers racing for the
 * same generation one wins, the other reads again and writes the one after, so no update is lost
 * without a store that offers If-Match. Older generations are deleted behind the newest (a reader
 * that listed one just deleted lists again).
 */
export const RUN_INDEX_PREFIX = 'state/index/runs/';

/** One record as the index holds it: what a listing of runs/ and a read of the record would give. */
export interface IndexEntry {
  etag: string;
  bytes: number;
  /** The record's last-modified in the store (ISO). */
  modified: string;
  record: StageRecord;
}

/** A month's index, one generation. */
export interface MonthIndex {
  v: 1;
  month: string;
  gen: number;
  /** By record key (runs/<month>/<run>/<stage>.json). */
  entries: Record<string, IndexEntry>;
}

const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;
const GEN = /\/(\d{10})\.json$/;
const ATTEMPTS = 25;

export const indexKey = (month: string, gen: number) =>
  `${RUN_INDEX_PREFIX}${month}/${String(gen).padStart(10, '0')}.json`;

const isNotFound = (e: unknown) => isBottleneckError(e) && e.code === 'BN_ERR_STORE_NOT_FOUND';
const isConflict = (e: unknown) => isBottleneckError(e) && e.details?.conflict === true;

/** The generation of an index object's key, or null when the key is not one. */
export function generationOf(key: string): number | null {
  const m = GEN.exec(key);
  return m ? Number(m[1]) : null;
}

/** The index object's shape checked; null when it is not a month's index (corrupt, another writer's format). */
export function parseMonthIndex(body: Buffer | string, month: string): MonthIndex | null {
  let v: unknown;
  try {
    v = JSON.parse(typeof body === 'string' ? body : body.toString('utf8'));
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const x = v as { v?: unknown; month?: unknown; gen?: unknown; entries?: unknown };
  if (x.v !== 1 || x.month !== month || typeof x.gen !== 'number' || typeof x.entries !== 'object' || !x.entries)
    return null;
  for (const [k, e] of Object.entries(x.entries as Record<string, unknown>)) {
    if (!k.startsWith(`${RUNS_PREFIX}${month}/`) || typeof e !== 'object' || e === null) return null;
    const y = e as { etag?: unknown; modified?: unknown; record?: unknown };
    if (typeof y.etag !== 'string' || typeof y.modified !== 'string' || typeof y.record !== 'object' || !y.record)
      return null;
  }
  return x as MonthIndex;
}

/** The newest generation's object of a month's index objects (listed), or null. */
export function newestGeneration(objs: readonly ObjectInfo[]): ObjectInfo | null {
  let best: ObjectInfo | null = null;
  let bestGen = -1;
  for (const o of objs) {
    const g = generationOf(o.key);
    if (g !== null && g > bestGen) {
      best = o;
      bestGen = g;
    }
  }
  return best;
}

/** A month's newest index generation as it is now: its number (0 when none) and content (null when none or unreadable). */
export async function readMonthIndex(
  store: ObjectStore,
  month: string,
): Promise<{ gen: number; index: MonthIndex | null; listed: ObjectInfo[] }> {
  for (let i = 0; i < ATTEMPTS; i++) {
    const listed = await store.list(`${RUN_INDEX_PREFIX}${month}/`);
    const newest = newestGeneration(listed);
    if (!newest) return { gen: 0, index: null, listed };
    try {
      return { gen: generationOf(newest.key) ?? 0, index: parseMonthIndex(await store.get(newest.key), month), listed };
    } catch (e) {
      if (!isNotFound(e)) throw e; // replaced meanwhile: list again
    }
  }
  return { gen: 0, index: null, listed: [] };
}

/**
 * Writes the month's next index generation from `change` (given the newest one, or null when there
 * is none or it is unreadable); retried from a fresh read when another writer took the generation.
 * `change` returns null when there is nothing to write. Generations older than the one read are
 * deleted once the new one is in.
 */
export async function updateMonthIndex(
  store: ObjectStore,
  month: string,
  change: (current: MonthIndex | null) => Record<string, IndexEntry> | null,
): Promise<MonthIndex | null> {
  if (!MONTH.test(month)) throw new RangeError(`not a month: ${month}`);
  for (let i = 0; i < ATTEMPTS; i++) {
    const { gen, index, listed } = await readMonthIndex(store, month);
    const entries = change(index);
    if (entries === null) return index;
    const next: MonthIndex = { v: 1, month, gen: gen + 1, entries };
    try {
      await store.put(indexKey(month, next.gen), JSON.stringify(next), {
        contentType: 'application/json',
        ifNoneMatch: true,
      });
    } catch (e) {
      if (isConflict(e)) continue; // another writer took this generation: read theirs, add ours again
      throw e;
    }
    // The generations before the one read are no longer anyone's newest (best effort: a reader lists again).
    for (const o of listed) {
      const g = generationOf(o.key);
      if (g !== null && g < gen) await store.delete(o.key).catch(() => undefined);
    }
    return next;
  }
  throw new Error(`the run index of ${month} stayed contended for ${ATTEMPTS} attempts`);
}

const keyParts = (key: string) => {
  const m = /^runs\/(\d{4}-\d{2})\/[^/]+\/[^/]+\.json$/.exec(key);
  return m ? { month: m[1] as string } : null;
};

/**
 * The recorder's side: adds the record just written at `key` (its ETag and last-modified taken
 * from the store) to its month's index. Called after the record is in; a crash before it leaves the
 * index behind the record, which the catalog repairs the next time it lists the records.
 */
export async function indexStageRecord(
  store: ObjectStore,
  key: string,
  record: StageRecord,
  body: string,
): Promise<void> {
  const parts = keyParts(key);
  if (!parts) return;
  const info = await store.head(key);
  // Gone, or replaced by a later write since ours: that write indexes itself.
  if (!info || info.bytes !== Buffer.byteLength(body)) return;
  const entry: IndexEntry = { etag: info.etag, bytes: info.bytes, modified: info.modified.toISOString(), record };
  await updateMonthIndex(store, parts.month, (cur) => {
    const old = cur?.entries[key];
    if (old?.etag === entry.etag) return null;
    if (old && old.modified > entry.modified) return null; // a later write is indexed already
    return { ...(cur?.entries ?? {}), [key]: entry };
  });
}

/**
 * Repairs a month's index to what the records say (`truth`: every record of the month, listed at
 * `listedAt` and read): entries added, replaced or removed so the index is the records. A record
 * indexed by its writer after that listing (newer than `listedAt`) is kept. Nothing is written when
 * the index already says the same.
 */
export async function repairMonthIndex(
  store: ObjectStore,
  month: string,
  truth: ReadonlyMap<string, IndexEntry>,
  listedAt: Date,
): Promise<void> {
  const since = listedAt.toISOString();
  await updateMonthIndex(store, month, (cur) => {
    const now = cur?.entries ?? {};
    const out: Record<string, IndexEntry> = Object.fromEntries(truth);
    for (const [k, e] of Object.entries(now)) {
      const t = truth.get(k);
      if (e.modified >= since && (!t || e.modified > t.modified)) out[k] = e;
    }
    const same =
      cur !== null &&
      Object.keys(now).length === Object.keys(out).length &&
      Object.entries(out).every(([k, e]) => now[k]?.etag === e.etag);
    return same ? null : out;
  });
}
