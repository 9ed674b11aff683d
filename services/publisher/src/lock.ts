import { createError, isBottleneckError, layout, type ObjectStore } from '@bottleneck/shared';

/** A lock older than this is a crashed publisher's: it is taken over. */
export const STALE_LOCK_MS = 10 * 60_000;

/**
 * Takes the month's publish lock with a conditional write (If-None-Match): a second run of the
 * same month publishing at the same time gets BN_ERR_PUBLISH_LOCKED (retriable: it waits and
 * tries again) instead of interleaving its files with the first's. The same run (a redelivery)
 * and a stale lock pass.
 */
export async function acquirePublishLock(
  store: ObjectStore,
  partition: string,
  runId: string,
  now: Date,
): Promise<() => Promise<void>> {
  const key = layout.publishLock(partition);
  const body = JSON.stringify({ runId, since: now.toISOString() }) + '\n';
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await store.put(key, body, { ifNoneMatch: true });
      return () => store.delete(key);
    } catch (e) {
      if (!isBottleneckError(e) || !e.details?.conflict) throw e;
      const held = JSON.parse((await store.get(key).catch(() => Buffer.from('{}'))).toString('utf8')) as {
        runId?: string;
        since?: string;
      };
      if (held.runId === runId) return () => store.delete(key);
      if (held.since && now.getTime() - Date.parse(held.since) > STALE_LOCK_MS) {
        await store.delete(key);
        continue;
      }
      throw createError(
        'BN_ERR_PUBLISH_LOCKED',
        `run ${held.runId ?? '?'} is publishing ${partition} (since ${held.since ?? '?'}); run ${runId} will try again`,
      );
    }
  }
  throw createError('BN_ERR_PUBLISH_LOCKED', `could not take the publish lock of ${partition}`);
}
