import { createHash } from 'node:crypto';
import type { ObjectStore } from '../ports/object-store.js';
import { isNotFound } from './index.js';

/**
 * Months an operator dismissed (a month that should not be there: files dropped under the wrong
 * month, a test run): one record per month under state/console/dismissed/<month>.json, kept when
 * the month is restored (restoredAt), so who did what stays recorded and a dismissal is reversible.
 * A dismissed month is not the page's default month, the folder watcher and backfills leave it
 * alone; its runs and files are untouched.
 */
export const DISMISSED_PREFIX = 'state/console/dismissed/';

export interface Dismissal {
  partition: string;
  dismissedAt: string;
  reason: string;
  restoredAt?: string;
}

const keyOf = (p: string) => `${DISMISSED_PREFIX}${p}.json`;

/** Every month's dismissal record (restored ones included), and a version for ETags. */
export async function readDismissals(store: ObjectStore): Promise<{ version: string; records: Dismissal[] }> {
  const objs = (await store.list(DISMISSED_PREFIX)).filter((o) => o.key.endsWith('.json'));
  const records: Dismissal[] = [];
  for (const o of objs) {
    try {
      records.push(JSON.parse((await store.get(o.key)).toString('utf8')) as Dismissal);
    } catch (e) {
      if (!isNotFound(e) && !(e instanceof SyntaxError)) throw e;
    }
  }
  const version = createHash('sha256')
    .update(objs.map((o) => `${o.key}\u0000${o.etag}`).join('\n'))
    .digest('hex')
    .slice(0, 12);
  return { version, records };
}

/** The months dismissed now (not restored), with why. */
export function dismissedMonths(records: readonly Dismissal[]): Map<string, Dismissal> {
  return new Map(records.filter((r) => !r.restoredAt).map((r) => [r.partition, r]));
}

export async function dismissMonth(
  store: ObjectStore,
  partition: string,
  reason: string,
  now: Date,
): Promise<Dismissal> {
  const rec: Dismissal = { partition, dismissedAt: now.toISOString(), reason };
  await store.put(keyOf(partition), JSON.stringify(rec, null, 2) + '\n', { contentType: 'application/json' });
  return rec;
}

/** Undoes a dismissal (the record stays, with when it was restored); null when the month was not dismissed. */
export async function restoreMonth(store: ObjectStore, partition: string, now: Date): Promise<Dismissal | null> {
  let rec: Dismissal;
  try {
    rec = JSON.parse((await store.get(keyOf(partition))).toString('utf8')) as Dismissal;
  } catch (e) {
    if (isNotFound(e)) return null;
    throw e;
  }
  if (rec.restoredAt) return null;
  const restored = { ...rec, restoredAt: now.toISOString() };
  await store.put(keyOf(partition), JSON.stringify(restored, null, 2) + '\n', { contentType: 'application/json' });
  return restored;
}
