import { createHash } from 'node:crypto';
import { isBottleneckError } from './errors/index.js';
import { INPUT_NAMES, parseIncomingKey } from './keys.js';
import type { ObjectInfo, ObjectStore } from './ports/object-store.js';

/**
 * Uploads the pipeline cannot place: an object under incoming/ (or anywhere the watcher or the
 * store's notifications see) that is not incoming/YYYY-MM/{erp,web,liaison}.xlsx. Each is recorded
 * once (state/unrecognised/<hash of the key>.json: key, size, when, why), which the catalog lists
 * as "unrecognised uploads", ingest counts (bn_unrecognised_uploads_total) and the alerter mails,
 * once per key. Nothing dropped silently.
 */
export const UNRECOGNISED_PREFIX = 'state/unrecognised/';

/** Top-level folders the pipeline writes itself: never an upload. */
const OWN = ['runs/', 'staging/', 'extracts/', 'state/', 'dead-letter/', 'refused/', '_readyz/', 'outbox/', '_'];

const FILES = INPUT_NAMES.map((n) => `${n}.xlsx`).join(', ');

/** Edit distance, for "did you mean incoming/?" (short strings only). */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) (d[0] as number[])[j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const row = d[i] as number[];
      const prev = d[i - 1] as number[];
      row[j] = Math.min(
        (prev[j] ?? 0) + 1,
        (row[j - 1] ?? 0) + 1,
        (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
  return (d[a.length] as number[])[b.length] ?? 0;
}

/**
 * Why the pipeline cannot place this key, in words with what to do; null when it can (a month's
 * input file) or when it is not an upload (the pipeline's own objects, folder markers).
 */
export function unrecognisedReason(key: string): string | null {
  if (!key || key.endsWith('/') || parseIncomingKey(key)) return null;
  const [top = '', ...rest] = key.split('/');
  if (top !== 'incoming') {
    if (!rest.length || OWN.some((o) => `${top}/`.startsWith(o))) return null;
    const near = distance(top.toLowerCase(), 'incoming') <= 2;
    return `${key} is outside incoming/${near ? ` (${top}/ looks like a misspelt incoming/)` : ''}: the pipeline reads only incoming/YYYY-MM/{${FILES}}; move it to incoming/YYYY-MM/`;
  }
  const [month = '', ...file] = rest;
  if (!file.length) return `${key} has no month folder: put it under incoming/YYYY-MM/ (the month its figures are for)`;
  if (!/^\d{4}-\d{2}$/.test(month))
    return `${key}: incoming/${month}/ is not a month folder (YYYY-MM); move the file to incoming/YYYY-MM/`;
  if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(month))
    return `${key}: ${month} is not a month (YYYY-MM, the month 01 to 12); move the file to the right month folder`;
  return `${key}: ${file.join('/')} is not one of ${FILES} (the only files read in incoming/${month}/); rename it, or remove it`;
}

/** What is recorded of an unrecognised upload. */
export interface UnrecognisedRecord {
  key: string;
  bytes: number;
  etag: string;
  /** When the object was last modified. */
  modified: string;
  /** When the pipeline first saw it. */
  seenAt: string;
  why: string;
  /** How it was seen: poll, notification, the ui's folder watcher. */
  via: string;
  /** The alerter's mail about it (written by the alerter's delivery). */
  alert: { status: 'pending' | 'sent' | 'failed' | 'uncertain'; attempts: number; at?: string };
}

/** The record's key: one per object key. */
export const unrecognisedKey = (key: string) =>
  `${UNRECOGNISED_PREFIX}${createHash('sha256').update(key).digest('hex').slice(0, 32)}.json`;

/**
 * Records an object the pipeline cannot place, once per key (a conditional write: a second sight,
 * a second replica, a restart record nothing more). Returns the record when it is new, else null
 * (placeable, not an upload, or recorded before).
 */
export async function recordUnrecognised(
  store: ObjectStore,
  o: ObjectInfo,
  via: string,
  now: Date,
): Promise<UnrecognisedRecord | null> {
  const why = unrecognisedReason(o.key);
  if (!why) return null;
  const record: UnrecognisedRecord = {
    key: o.key,
    bytes: o.bytes,
    etag: o.etag,
    modified: o.modified.toISOString(),
    seenAt: now.toISOString(),
    why,
    via,
    alert: { status: 'pending', attempts: 0 },
  };
  try {
    await store.put(unrecognisedKey(o.key), JSON.stringify(record, null, 2) + '\n', {
      ifNoneMatch: true,
      contentType: 'application/json',
    });
    return record;
  } catch (e) {
    if (isBottleneckError(e) && e.details?.conflict) return null;
    throw e;
  }
}
