import { errorMessage, parseIncomingKey, recordUnrecognised, type ObjectInfo } from '@bottleneck/shared';
import { checkMonth as checkClaim, sendClaim, sendPending, versionOf } from './claims.js';
import { writeWatcherState, type Became } from '@bottleneck/shared/catalog/sensors';
import { loadConfig } from '@bottleneck/shared/service/config';
import type { ServiceExtra, ServiceRuntime } from '@bottleneck/shared/service/run';

/** The S3 event notification format (AWS, versitygw): the object keys it names, URL-decoded. */
export function keysOfNotification(value: string): string[] {
  let doc: unknown;
  try {
    doc = JSON.parse(value);
  } catch {
    return [];
  }
  const records = typeof doc === 'object' && doc !== null ? (doc as { Records?: unknown }).Records : undefined;
  if (!Array.isArray(records)) return [];
  return records
    .filter((r) => ((r as { eventName?: string }).eventName ?? 's3:ObjectCreated').includes('ObjectCreated'))
    .map((r) => (r as { s3?: { object?: { key?: string } } }).s3?.object?.key)
    .filter((k): k is string => typeof k === 'string')
    .map((k) => decodeURIComponent(k.replace(/\+/g, ' ')));
}

export interface WatcherStatus {
  lastPollAt: string | null;
  notifications: number;
  triggered: { partition: string; runId: string; at: string; via: string }[];
  /** Months with some of their files, and the ones they wait for. */
  waiting: Record<string, string[]>;
  /** Uploads it could not place, recorded by this process (the catalog lists all of them). */
  unrecognised: number;
}

/** How long a claim may stay pending (its trigger not taken by the bus) before the sweep sends it again. */
export const CLAIM_GRACE_MS = 10_000;

/**
 * Starts runs when a month's three files are in incoming/<YYYY-MM>/ and have settled
 * (BN_SETTLE_MS without a change: files dropped together give one run): from S3 event
 * notifications (a topic of the bus the store publishes to) and, as a fallback, by polling with
 * ListObjectsV2. Each new version of a month's files (ETags) is claimed under state/ingest/ and its
 * trigger, pinned to those versions, sent from the claim (an outbox: re-sent by the sweep until
 * the bus takes it, so an upload is never lost to a Kafka outage or a crash). Months are checked
 * concurrently: a slow one does not hold the others.
 */
export async function startWatcher(rt: ServiceRuntime): Promise<ServiceExtra> {
  const { store, bus, log } = rt;
  const config = loadConfig('ingest', rt.env);
  const status: WatcherStatus = { lastPollAt: null, notifications: 0, triggered: [], waiting: {}, unrecognised: 0 };
  /** Keys already looked at (recorded, or recorded before by someone): not written again. */
  const placedOrRecorded = new Set<string>();

  /** Records an object it cannot place (once per key), logs it and counts it; the alerter mails it. */
  const unrecognised = async (objects: readonly ObjectInfo[], via: string): Promise<void> => {
    for (const o of objects) {
      if (placedOrRecorded.has(o.key) || parseIncomingKey(o.key)) continue;
      try {
        const r = await recordUnrecognised(store, o, via, new Date());
        placedOrRecorded.add(o.key);
        if (!r) continue;
        status.unrecognised++;
        rt.metrics.unrecognised.inc();
        log.warn(
          { key: o.key, bytes: o.bytes, why: r.why, via },
          'upload not recognised: recorded, the alerter mails it',
        );
      } catch (e) {
        log.warn({ key: o.key, err: errorMessage(e) }, 'unrecognised upload not recorded yet (the store?): next poll');
      }
    }
  };
  // Outside incoming/ (a misspelt prefix) is seen by the notifications, and by a listing of the
  // whole bucket at most every 30 s (the pipeline's own folders are skipped, not parsed).
  let polls = 0;
  const inFlight = new Map<string, Promise<void>>();
  const rechecks = new Map<string, NodeJS.Timeout>();
  let stopped = false;

  const checkMonth = (partition: string, via: string): Promise<void> => {
    // One check per month at a time; a check asked for meanwhile runs after it.
    const prev = inFlight.get(partition) ?? Promise.resolve();
    const next = prev
      .then(() => check(partition, via))
      .catch((e: unknown) =>
        log.error(
          { partition, err: errorMessage(e) },
          'incoming check failed (the next poll, notification or sweep tries again)',
        ),
      );
    inFlight.set(partition, next);
    return next;
  };

  /** What each month's last check made of its files (the sensors page). */
  const became = new Map<string, { became: Became; runId?: string; why?: string }>();
  async function check(partition: string, via: string): Promise<void> {
    const outcome = await checkClaim(store, partition, { now: new Date(), settleMs: config.BN_SETTLE_MS, via });
    became.set(
      partition,
      outcome.state === 'waiting'
        ? { became: 'waiting', why: `waiting for ${outcome.missing.map((n) => `${n}.xlsx`).join(', ')}` }
        : outcome.state === 'settling'
          ? { became: 'settling', why: 'files still changing: the run starts once they settle' }
          : outcome.state === 'current' || outcome.state === 'claimed'
            ? { became: outcome.state === 'claimed' ? 'run' : 'seen before', runId: outcome.claim.runId }
            : { became: 'seen before' },
    );
    if (outcome.state === 'waiting') {
      status.waiting[partition] = outcome.missing;
      return;
    }
    status.waiting = Object.fromEntries(Object.entries(status.waiting).filter(([p]) => p !== partition));
    if (outcome.state === 'settling') {
      // Look again once the files have been quiet long enough.
      if (!rechecks.has(partition) && !stopped) {
        const t = setTimeout(() => {
          rechecks.delete(partition);
          void checkMonth(partition, via);
        }, outcome.recheckInMs + 50);
        t.unref();
        rechecks.set(partition, t);
      }
      return;
    }
    if (outcome.state !== 'claimed') return;
    const { claim } = outcome;
    try {
      await sendClaim(store, bus, claim, new Date());
    } catch (e) {
      log.warn(
        { runId: claim.runId, partition, err: errorMessage(e) },
        'trigger not sent (the bus?): the claim stays pending and is sent again',
      );
      return;
    }
    status.triggered.unshift({ partition, runId: claim.runId, at: new Date().toISOString(), via });
    status.triggered.length = Math.min(status.triggered.length, 20);
    log.info({ runId: claim.runId, partition, via, seq: claim.seq }, 'new files: run triggered');
  }

  async function poll(): Promise<void> {
    const objects = await store.list('incoming/');
    const everyN = Math.max(1, Math.ceil(30_000 / Math.max(1, config.BN_POLL_INTERVAL_MS)));
    const wide = polls++ % everyN === 0 ? await store.list('') : objects;
    await unrecognised(wide, 'poll');
    const months = new Set(
      objects.map((o) => parseIncomingKey(o.key)?.partition).filter((p): p is string => Boolean(p)),
    );
    await Promise.all([...months].sort().map((p) => checkMonth(p, 'poll')));
    status.lastPollAt = new Date().toISOString();
    // The sensors page: the last look, the cursor and what each object became (best effort).
    const cursor: Record<string, string> = {};
    for (const p of months) cursor[p] = versionOf(objects.filter((o) => parseIncomingKey(o.key)?.partition === p));
    await writeWatcherState(store, {
      where: 'ingest',
      lastPollAt: status.lastPollAt,
      polls,
      cursor,
      objectsSeen: objects.length,
      objects: objects.map((o) => {
        const k = parseIncomingKey(o.key);
        const b = k ? became.get(k.partition) : undefined;
        return {
          key: o.key,
          etag: o.etag,
          bytes: o.bytes,
          modified: o.modified.toISOString(),
          ...(b ?? { became: 'unrecognised' as const, why: "not a month's erp.xlsx, web.xlsx or liaison.xlsx" }),
        };
      }),
      triggered: status.triggered,
    }).catch((e: unknown) => log.warn({ err: errorMessage(e) }, 'watcher state not recorded (the store?)'));
  }

  // S3 event notifications, which the store publishes on a topic of the bus (versitygw does; AWS through a bridge).
  const notifications = await bus.subscribeRaw({
    topic: config.S3_EVENTS_TOPIC,
    group: 'bottleneck-ingest-s3events',
    handler: async ({ value }) => {
      const keys = keysOfNotification(value);
      status.notifications++;
      // A notification names the key only: its size and time come from the store.
      const odd = keys
        .map((k) => k.replace(/^[^/]*\/(?=incoming\/)/, ''))
        .filter((k) => !parseIncomingKey(k) && !placedOrRecorded.has(k));
      if (odd.length) {
        const heads = await Promise.all(odd.map((k) => store.head(k).catch(() => null)));
        await unrecognised(
          heads
            .filter((h): h is NonNullable<typeof h> => h !== null)
            .map((h, i) => ({ ...h, key: h.key || (odd[i] ?? '') })),
          'notification',
        );
      }
      const months = new Set(
        keys
          .map((k) => parseIncomingKey(k.replace(/^[^/]*\/(?=incoming\/)/, ''))?.partition)
          .filter((p): p is string => Boolean(p)),
      );
      await Promise.all([...months].map((p) => checkMonth(p, 'notification')));
    },
  });

  // The outbox: claims whose trigger the bus did not take (down, or this process died in between).
  const sweep = async () => {
    try {
      for (const c of await sendPending(store, bus, new Date(), CLAIM_GRACE_MS))
        log.info({ runId: c.runId, partition: c.trigger.partition, seq: c.seq }, 'pending claim: trigger sent again');
    } catch (e) {
      log.warn({ err: errorMessage(e) }, 'pending claims: not sent yet (the bus or the store?), trying again later');
    }
  };
  const sweeper = setInterval(() => void sweep(), CLAIM_GRACE_MS);
  sweeper.unref();
  void sweep();

  // A trigger (schedule or manual) makes ingest re-check that month too: handled by the stage itself.
  const interval = config.BN_POLL_INTERVAL_MS;
  let timer: NodeJS.Timeout | undefined;
  if (interval > 0) {
    const loop = async () => {
      await poll().catch((e: unknown) => log.error({ err: errorMessage(e) }, 'poll failed'));
      if (!stopped) timer = setTimeout(() => void loop(), interval);
    };
    void loop();
  }
  return {
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      clearInterval(sweeper);
      for (const t of rechecks.values()) clearTimeout(t);
      await notifications.close();
      await Promise.all(inFlight.values());
    },
    status: () => ({ watcher: status }),
  };
}
