import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FolderStore } from '@bottleneck/shared/adapters/folder-store';
import { acquirePublishLock, STALE_LOCK_MS } from './lock.js';

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
async function store() {
  const d = await mkdtemp(join(tmpdir(), 'bn-lock-'));
  dirs.push(d);
  return new FolderStore(d);
}

describe('the publish lock', () => {
  it('lets one run of a month publish at a time; the other waits (retriable)', async () => {
    const s = await store();
    const now = new Date('2026-11-15T09:00:00Z');
    const results = await Promise.allSettled([
      acquirePublishLock(s, '2026-11', 'run-a', now),
      acquirePublishLock(s, '2026-11', 'run-b', now),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const refused = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')!.reason;
    expect(refused).toMatchObject({ code: 'BN_ERR_PUBLISH_LOCKED', retriable: true });
    // Another month is not held up; after release the waiting run gets it.
    await (
      await acquirePublishLock(s, '2026-12', 'run-c', now)
    )();
    await results.find((r): r is PromiseFulfilledResult<() => Promise<void>> => r.status === 'fulfilled')!.value();
    await expect(acquirePublishLock(s, '2026-11', 'run-b', now)).resolves.toBeTypeOf('function');
  });

  it('lets the same run through (a redelivery), and takes over a stale lock', async () => {
    const s = await store();
    const t0 = new Date('2026-11-15T09:00:00Z');
    await acquirePublishLock(s, '2026-11', 'run-a', t0);
    await expect(acquirePublishLock(s, '2026-11', 'run-a', t0)).resolves.toBeTypeOf('function');
    await expect(acquirePublishLock(s, '2026-11', 'run-b', new Date(t0.getTime() + 60_000))).rejects.toMatchObject({
      code: 'BN_ERR_PUBLISH_LOCKED',
    });
    await expect(
      acquirePublishLock(s, '2026-11', 'run-b', new Date(t0.getTime() + STALE_LOCK_MS + 1)),
    ).resolves.toBeTypeOf('function');
  });
});
