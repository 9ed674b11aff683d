import type { ObjectStore } from '../ports/object-store.js';
import { isBottleneckError } from '../errors/index.js';
import { BACKFILLS_PREFIX, backfillProgress, type BackfillProgress, type BackfillRecord } from './actions.js';
import type { Snapshot } from './types.js';

/**
 * Backfills as the console lists them, and their cancellation. A cancellation is its own object
 * beside the backfill's record (`state/backfills/<id>.cancelled.json`, written once with
 * If-None-Match): the record itself is never rewritten. ingest reads it when it takes up a
 * backfill's trigger (`backfillCancelled`, from `bindStage`): a month not started yet is not
 * started; a month already running finishes.
 */

export const BACKFILL_ID = /^bf-[0-9T]+-[0-9a-f]{6}$/;

export interface BackfillCancellation {
  id: string;
  cancelledAt: string;
  by: string;
}

const cancelKey = (id: string) => `${BACKFILLS_PREFIX}${id}.cancelled.json`;

const notFound = (e: unknown) => isBottleneckError(e) && e.code === 'BN_ERR_STORE_NOT_FOUND';

/** The backfill's cancellation, or null (also for an id that is not a backfill's). */
export async function readCancellation(store: ObjectStore, id: string): Promise<BackfillCancellation | null> {
  if (!BACKFILL_ID.test(id)) return null;
  try {
    return JSON.parse((await store.get(cancelKey(id))).toString('utf8')) as BackfillCancellation;
  } catch (e) {
    if (notFound(e)) return null;
    throw e;
  }
}

/** Whether a trigger belongs to a cancelled backfill (ingest asks before it starts the month). */
export async function backfillCancelled(store: ObjectStore, backfillId: string | undefined): Promise<boolean> {
  return backfillId !== undefined && (await readCancellation(store, backfillId)) !== null;
}

/** Records the cancellation (once: a second cancel returns the first). */
export async function cancelBackfill(
  store: ObjectStore,
  id: string,
  now: Date,
  by = 'console',
): Promise<BackfillCancellation> {
  const rec: BackfillCancellation = { id, cancelledAt: now.toISOString(), by };
  try {
    await store.put(cancelKey(id), JSON.stringify(rec) + '\n', { contentType: 'application/json', ifNoneMatch: true });
    return rec;
  } catch (e) {
    if (isBottleneckError(e) && e.details?.conflict) return (await readCancellation(store, id)) ?? rec;
    throw e;
  }
}

export type BackfillView = Omit<BackfillProgress, 'status' | 'runs'> & {
  status: BackfillProgress['status'] | 'cancelled';
  runs: { partition: string; runId: string; status: BackfillProgress['runs'][number]['status'] | 'not started' }[];
  cancelled: BackfillCancellation | null;
};

/**
 * A backfill's progress with its cancellation: after a cancel, a month whose run never started is
 * `not started` (and counts as done), a running one keeps going; the backfill is `cancelled` once
 * nothing of it runs.
 */
export function backfillView(rec: BackfillRecord, cancelled: BackfillCancellation | null, s: Snapshot): BackfillView {
  const p = backfillProgress(rec, s);
  if (!cancelled) return { ...p, cancelled: null };
  const runs = p.runs.map((r) => (r.status === 'queued' ? { ...r, status: 'not started' as const } : r));
  const done = runs.filter((r) => r.status !== 'running' && r.status !== 'queued').length;
  return { ...p, runs, done, status: done < runs.length ? 'running' : 'cancelled', cancelled };
}

/** Every backfill in the store, newest first, with its progress. */
export async function listBackfills(store: ObjectStore, s: Snapshot): Promise<BackfillView[]> {
  const objects = await store.list(BACKFILLS_PREFIX);
  const ids = new Set<string>();
  const cancelledIds = new Set<string>();
  for (const o of objects) {
    const m = /^state\/backfills\/(bf-[0-9T]+-[0-9a-f]{6})(\.cancelled)?\.json$/.exec(o.key);
    if (m?.[1]) (m[2] ? cancelledIds : ids).add(m[1]);
  }
  const views = await Promise.all(
    [...ids].map(async (id) => {
      let rec: BackfillRecord;
      try {
        rec = JSON.parse((await store.get(`${BACKFILLS_PREFIX}${id}.json`)).toString('utf8')) as BackfillRecord;
      } catch (e) {
        if (notFound(e)) return null;
        throw e;
      }
      if (!Array.isArray(rec.runs)) return null;
      return backfillView(rec, cancelledIds.has(id) ? await readCancellation(store, id) : null, s);
    }),
  );
  return views
    .filter((v): v is BackfillView => v !== null)
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id));
}
