import { createHash } from 'node:crypto';
import { INPUT_NAMES, isBottleneckError, layout, makeEvent, newRunId, parseIncomingKey, type ObjectInfo } from '@bottleneck/shared';
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
  const records = (doc as { Records?: unknown[] })?.Records;
  if (!Array.isArray(records)) return [];
  return records
    .filter((r) => String((r as { eventName?: string }).eventName ?? 's3:ObjectCreated').includes('ObjectCreated'))
    .map((r) => (r as { s3?: { object?: { key?: string } } }).s3?.object?.key)
    .filter((k): k is string => typeof k === 'string')
    .map((k) => decodeURIComponent(k.replace(/\+/g, ' ')));
}

export interface WatcherStatus {
  lastPollAt: string | null;
  notifications: number;
  triggered: { partition: string; runId: string; at: string; via: string }[];
}

/**
 * Starts runs when a month's three files are in incoming/<YYYY-MM>/: from S3 event notifications
 * (a Kafka topic the store publishes to) and, as a fallback, by polling with ListObjectsV2. A month
 * is triggered once per version of its files (ETags): the claim object written with If-None-Match
 * is the persisted cursor, so a restart or a second replica does not ingest twice.
 */
export async function startWatcher(rt: ServiceRuntime): Promise<ServiceExtra> {
  const { store, bus, log } = rt;
  const config = loadConfig('ingest', rt.env);
  const status: WatcherStatus = { lastPollAt: null, notifications: 0, triggered: [] };
  const inFlight = new Map<string, Promise<void>>();

  const checkMonth = (partition: string, via: string): Promise<void> => {
    // One check per month at a time; a check asked for meanwhile runs after it.
    const prev = inFlight.get(partition) ?? Promise.resolve();
    const next = prev.then(() => check(partition, via)).catch((e: unknown) => log.error({ partition, err: (e as Error).message }, 'incoming check failed'));
    inFlight.set(partition, next);
    return next;
  };

  async function check(partition: string, via: string): Promise<void> {
    const objects = await store.list(layout.incomingPrefix(partition));
    const present = INPUT_NAMES.map((n) => objects.find((o: ObjectInfo) => o.key === layout.incoming(partition, n)));
    if (present.some((o) => !o)) return;
    const version = createHash('sha256').update(present.map((o) => `${o!.key}:${o!.etag}:${o!.bytes}`).join('\n')).digest('hex').slice(0, 32);
    const runId = newRunId(partition);
    try {
      await store.put(layout.ingestClaim(partition, version), JSON.stringify({ runId, files: present, claimedAt: new Date().toISOString(), via }) + '\n', { ifNoneMatch: true });
    } catch (e) {
      if (isBottleneckError(e) && e.details?.conflict) return; // this version was already ingested
      throw e;
    }
    await bus.publish(makeEvent('trigger', { runId, partition, materializations: {}, checks: [], payload: { source: 'upload' } }));
    status.triggered.unshift({ partition, runId, at: new Date().toISOString(), via });
    status.triggered.length = Math.min(status.triggered.length, 20);
    log.info({ runId, partition, via }, 'new files: run triggered');
  }

  async function poll(): Promise<void> {
    const objects = await store.list('incoming/');
    const months = new Set(objects.map((o) => parseIncomingKey(o.key)?.partition).filter((p): p is string => Boolean(p)));
    for (const p of [...months].sort()) await checkMonth(p, 'poll');
    status.lastPollAt = new Date().toISOString();
  }

  // S3 event notifications, which the store publishes on a topic of the bus (versitygw does; AWS through a bridge).
  const notifications = await bus.subscribeRaw({
    topic: config.S3_EVENTS_TOPIC,
    group: 'bottleneck-ingest-s3events',
    handler: async ({ value }) => {
      const keys = keysOfNotification(value);
      status.notifications++;
      const months = new Set(keys.map((k) => parseIncomingKey(k.replace(/^[^/]*\/(?=incoming\/)/, ''))?.partition).filter((p): p is string => Boolean(p)));
      for (const p of months) await checkMonth(p, 'notification');
    },
  });

  // A trigger (schedule or manual) makes ingest re-check that month too: handled by the stage itself.
  const interval = config.BN_POLL_INTERVAL_MS;
  let timer: NodeJS.Timeout | undefined;
  if (interval > 0) {
    const loop = async () => {
      await poll().catch((e: unknown) => log.error({ err: (e as Error).message }, 'poll failed'));
      timer = setTimeout(loop, interval);
    };
    void loop();
  }
  return {
    stop: async () => {
      clearTimeout(timer);
      await notifications.close();
      await Promise.all(inFlight.values());
    },
    status: () => ({ watcher: status }),
  };
}
