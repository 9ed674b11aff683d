import { createHash } from 'node:crypto';
import { isBottleneckError } from '../errors/index.js';
import { layout } from '../keys.js';
import type { ObjectInfo, ObjectStore } from '../ports/object-store.js';
import { RUNS_PREFIX } from '../runs/record.js';

/** Where the unrecognised uploads are recorded (by ingest's watcher), one object per key. */
import { UNRECOGNISED_PREFIX } from '../uploads.js';

export { UNRECOGNISED_PREFIX };
/** Where the alerter records refused events (refused/<month>/...) and their hourly groups (refused/_hourly/). */
export const REFUSED_PREFIX = 'refused/';

/** The store's objects a snapshot is built from, by source, and a hash of their keys and ETags. */
export interface Sources {
  /** runs/<month>/<run>/<stage>.json */
  records: ObjectInfo[];
  /** incoming/** (listing only) */
  incoming: ObjectInfo[];
  /** extracts/<month>/_current.json */
  pointers: ObjectInfo[];
  /** dead-letter/**.json */
  deadLetters: ObjectInfo[];
  /** state/ingest/<month>/<seq>.json */
  claims: ObjectInfo[];
  /** state/alerts/*.json */
  alerts: ObjectInfo[];
  /** refused/<month>/*.json (not the hourly groups) */
  refused: ObjectInfo[];
  /** state/unrecognised/*.json */
  unrecognised: ObjectInfo[];
  /** The API's ETag: changes whenever any of these objects does. */
  version: string;
}

/**
 * Lists every source of the catalog (eight listings, concurrently). `records` replaces the listing
 * of runs/ (the catalog passes the run index's, indexed.ts).
 */
export async function listSources(store: ObjectStore, records?: () => Promise<ObjectInfo[]>): Promise<Sources> {
  const list = (p: string) => (p === RUNS_PREFIX && records ? records() : store.list(p));
  const json = (l: ObjectInfo[]) => l.filter((o) => o.key.endsWith('.json'));
  const [runObjs, incoming, extractObjs, deadObjs, claimObjs, alertObjs, refusedObjs, unrecObjs] = await Promise.all([
    list(RUNS_PREFIX),
    list('incoming/'),
    list('extracts/'),
    list('dead-letter/'),
    list(layout.ingestClaimsRoot),
    list('state/alerts/'),
    list(REFUSED_PREFIX),
    list(UNRECOGNISED_PREFIX),
  ]);
  const s: Omit<Sources, 'version'> = {
    records: json(runObjs),
    incoming,
    pointers: extractObjs.filter((o) => /^extracts\/[^/]+\/_current\.json$/.test(o.key)),
    deadLetters: json(deadObjs),
    claims: claimObjs.filter((o) => /\/\d{8}\.json$/.test(o.key)),
    alerts: json(alertObjs),
    refused: json(refusedObjs).filter((o) => !o.key.startsWith(`${REFUSED_PREFIX}_`)),
    unrecognised: json(unrecObjs),
  };
  const version = createHash('sha256')
    .update(
      Object.values(s)
        .flat()
        .map((o) => `${o.key}\u0000${o.etag}`)
        .join('\n'),
    )
    .digest('hex')
    .slice(0, 24);
  return { ...s, version };
}

const notFound = (e: unknown) => isBottleneckError(e) && e.code === 'BN_ERR_STORE_NOT_FOUND';

/** Parsed JSON objects of the store, cached by key and ETag: a snapshot after a small change reads only what changed. */
export class JsonCache {
  private readonly cache = new Map<string, { etag: string; value: unknown }>();

  constructor(private readonly store: ObjectStore) {}

  /** Puts what is known to be the object's JSON at this ETag (the run index holds the records' content). */
  seed(o: ObjectInfo, value: unknown): void {
    const hit = this.cache.get(o.key);
    if (hit?.etag !== o.etag) this.cache.set(o.key, { etag: o.etag, value });
  }

  /** The object's JSON; null when it went meanwhile or is not JSON. */
  async get<T>(o: ObjectInfo): Promise<T | null> {
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
}

const PARTITION = /^\d{4}-(0[1-9]|1[0-2])$/;

/** Objects under a prefix grouped by their month (the segment after the prefix). */
export function byMonth(objects: readonly ObjectInfo[], prefix: string): Map<string, ObjectInfo[]> {
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

export { notFound as isNotFound, PARTITION };
