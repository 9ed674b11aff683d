import { mkdtemp, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FolderStore } from '@bottleneck/shared/adapters/folder-store';
import { MemoryBus } from '@bottleneck/shared/adapters/memory-bus';
import { createError } from '@bottleneck/shared/errors/index';
import { layout } from '@bottleneck/shared/keys';
import type { Bus } from '@bottleneck/shared/ports/bus';
import { checkMonth, latestClaim, sendClaim, sendPending } from './claims.js';

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

async function month(files: Record<string, string> = { erp: 'e1', web: 'w1', liaison: 'l1' }) {
  const dir = await mkdtemp(join(tmpdir(), 'bn-claims-'));
  dirs.push(dir);
  const store = new FolderStore(dir);
  for (const [n, body] of Object.entries(files)) await store.put(`incoming/2026-11/${n}.xlsx`, body);
  return { store, dir };
}

/** Sets the files' modification time to `at`, as a store would report after an upload then. */
async function age(dir: string, at: Date) {
  for (const n of ['erp', 'web', 'liaison'])
    await utimes(join(dir, 'incoming', '2026-11', `${n}.xlsx`), at, at).catch(() => undefined);
}

const later = () => new Date(Date.now() + 60_000);
const opts = (now = later()) => ({ now, settleMs: 5_000, via: 'poll' });

describe('ingest claims', () => {
  it('waits for missing files, then for the files to settle, then claims one version for a run, pinned to the files it saw', async () => {
    const { store, dir } = await month({ erp: 'e1', web: 'w1' });
    expect(await checkMonth(store, '2026-11', opts())).toEqual({ state: 'waiting', missing: ['liaison'] });
    await store.put('incoming/2026-11/liaison.xlsx', 'l1');
    const now = new Date();
    await age(dir, new Date(now.getTime() - 2_000));
    expect(await checkMonth(store, '2026-11', opts(now))).toMatchObject({
      state: 'settling',
      recheckInMs: expect.any(Number),
    });
    const got = await checkMonth(store, '2026-11', opts());
    expect(got.state).toBe('claimed');
    if (got.state !== 'claimed') return;
    const erp = (await store.head('incoming/2026-11/erp.xlsx'))!;
    expect(got.claim).toMatchObject({
      seq: 1,
      status: 'pending',
      trigger: {
        type: 'trigger',
        id: `${got.claim.runId}.trigger`,
        payload: { source: 'upload', files: { erp: { key: erp.key, etag: erp.etag } } },
      },
    });
    expect(await checkMonth(store, '2026-11', opts())).toMatchObject({ state: 'current', claim: { seq: 1 } });
  });

  it('follows the latest files: a change starts a run, and so does reverting to an earlier version', async () => {
    const { store } = await month();
    const first = await checkMonth(store, '2026-11', opts());
    await store.put('incoming/2026-11/erp.xlsx', 'e2 (changed)');
    const second = await checkMonth(store, '2026-11', opts());
    await store.put('incoming/2026-11/erp.xlsx', 'e1');
    const third = await checkMonth(store, '2026-11', opts());
    expect([first.state, second.state, third.state]).toEqual(['claimed', 'claimed', 'claimed']);
    expect((await latestClaim(store, '2026-11'))!.seq).toBe(3);
  });

  it('lets one of two racing checks claim a version, not both', async () => {
    const { store } = await month();
    const results = await Promise.all([checkMonth(store, '2026-11', opts()), checkMonth(store, '2026-11', opts())]);
    expect(results.map((r) => r.state).sort()).toEqual(['claimed', 'taken']);
    expect((await store.list(layout.ingestClaimsPrefix('2026-11'))).map((o) => o.key)).toEqual([
      'state/ingest/2026-11/00000001.json',
    ]);
  });

  it('keeps a claim whose trigger the bus did not take, and sends it again later, with the same event id', async () => {
    const { store } = await month();
    // A second on: the files' modification times (the file system's clock, finer than Date's) are past.
    const got = await checkMonth(store, '2026-11', { now: new Date(Date.now() + 1_000), settleMs: 0, via: 'poll' });
    if (got.state !== 'claimed') throw new Error('expected a claim');
    const down: Bus = {
      ...new MemoryBus(),
      publish: async () => {
        throw createError('BN_ERR_BUS_PUBLISH', 'Kafka is down', { retriable: true });
      },
    } as unknown as Bus;
    await expect(sendClaim(store, down, got.claim, new Date())).rejects.toMatchObject({ code: 'BN_ERR_BUS_PUBLISH' });
    expect((await latestClaim(store, '2026-11'))!.status).toBe('pending');
    const bus = new MemoryBus();
    // Not yet: a claim just made may still be being sent by its own process.
    expect(await sendPending(store, bus, new Date(), 10_000)).toEqual([]);
    const sent = await sendPending(store, bus, later(), 10_000);
    expect(sent.map((c) => c.runId)).toEqual([got.claim.runId]);
    expect(bus.messages().map((m) => m.event.id)).toEqual([`${got.claim.runId}.trigger`]);
    expect((await latestClaim(store, '2026-11'))!.status).toBe('sent');
    expect(await sendPending(store, bus, later(), 10_000)).toEqual([]);
    await bus.close();
  });
});
