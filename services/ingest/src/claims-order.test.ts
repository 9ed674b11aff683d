import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FolderStore } from '@bottleneck/shared/adapters/folder-store';
import { MemoryBus } from '@bottleneck/shared/adapters/memory-bus';
import { createError } from '@bottleneck/shared/errors/index';
import type { ObjectInfo } from '@bottleneck/shared/ports/object-store';
import { CallLog, Crash, recordingBus, recordingStore } from '@bottleneck/shared/testing/recording';
import { checkMonth, latestClaim, sendClaim, sendPending, versionOf } from './claims.js';

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

// After the files' modification times (real: the folder store's), so they have settled.
const T0 = new Date(Date.now() + 60_000);
const at = (s: number) => new Date(T0.getTime() + s * 1000);

/** What ingest does when a month's files have settled: claim the version, then send its trigger. */
async function ingest(
  store: FolderStore | ReturnType<typeof recordingStore>,
  bus: MemoryBus | ReturnType<typeof recordingBus>,
  now: Date,
) {
  const got = await checkMonth(store, '2026-11', { now, settleMs: 0, via: 'poll' });
  if (got.state === 'claimed') await sendClaim(store, bus, got.claim, now);
  return got.state;
}

async function month() {
  const dir = await mkdtemp(join(tmpdir(), 'bn-claims-order-'));
  dirs.push(dir);
  const folder = new FolderStore(dir);
  for (const n of ['erp', 'web', 'liaison']) await folder.put(`incoming/2026-11/${n}.xlsx`, `${n} v1`);
  const log = new CallLog();
  const bus = new MemoryBus();
  return { folder, log, bus, store: recordingStore(folder, log), rbus: recordingBus(bus, log) };
}

describe('ingest, effect by effect', () => {
  it('writes the claim (If-None-Match), then sends its trigger, then marks the claim sent', async () => {
    const { log, store, rbus, bus } = await month();
    expect(await ingest(store, rbus, at(60))).toBe('claimed');
    const claim = (await latestClaim(store, '2026-11'))!;
    expect(log.lines()).toEqual([
      'put state/ingest/2026-11/00000001.json',
      `publish ${claim.runId}.trigger`,
      'put state/ingest/2026-11/00000001.json',
    ]);
    expect(claim.status).toBe('sent');
    await bus.close();
  });

  it('for every k, a crash at the k-th effect ends, after a restart and the outbox sweep, in one run of the version, its trigger sent', async () => {
    for (let k = 1; k <= 3; k++) {
      const { folder, log, store, rbus, bus } = await month();
      log.restart(k);
      await expect(ingest(store, rbus, at(60)), `crash at effect ${String(k)}`).rejects.toBeInstanceOf(Crash);
      // The trigger is never sent before its claim is written.
      const triggers = () => bus.messages().filter((m) => m.event.type === 'trigger');
      if (k === 1) expect(triggers()).toEqual([]);
      log.restart();
      // The restarted process looks at the month again, and its sweep sends what is pending.
      await ingest(store, rbus, at(70));
      await sendPending(store, rbus, at(200), 10_000);
      const claims = await folder.list('state/ingest/2026-11/');
      expect(
        claims.map((o) => o.key),
        `crash at effect ${String(k)}`,
      ).toEqual(['state/ingest/2026-11/00000001.json']);
      const claim = (await latestClaim(folder, '2026-11'))!;
      expect(claim.status).toBe('sent');
      expect(new Set(triggers().map((m) => m.event.id)), `crash at effect ${String(k)}`).toEqual(
        new Set([`${claim.runId}.trigger`]),
      );
      await bus.close();
    }
  });
});

describe('the version of a month', () => {
  const info = (etag: string, bytes = 100): ObjectInfo => ({
    key: 'incoming/2026-11/erp.xlsx',
    bytes,
    etag,
    modified: T0,
  });

  it('is new when an ETag changes and the size does not', () => {
    expect(versionOf([info('"a"')])).not.toBe(versionOf([info('"b"')]));
  });

  it('is new when the size changes and the ETag does not, and the same for the same files', () => {
    expect(versionOf([info('"a"', 100)])).not.toBe(versionOf([info('"a"', 101)]));
    expect(versionOf([info('"a"')])).toBe(versionOf([info('"a"')]));
  });

  it('is new when a file is replaced by content of the same size (its ETag is the content)', async () => {
    const { folder } = await month();
    const before = await checkMonth(folder, '2026-11', { now: at(60), settleMs: 0, via: 'poll' });
    await folder.put('incoming/2026-11/erp.xlsx', 'ERP v1');
    const after = await checkMonth(folder, '2026-11', { now: at(120), settleMs: 0, via: 'poll' });
    expect([before.state, after.state]).toEqual(['claimed', 'claimed']);
    if (before.state !== 'claimed' || after.state !== 'claimed') return;
    expect(after.claim.files.erp.bytes).toBe(before.claim.files.erp.bytes);
    expect(after.claim.version).not.toBe(before.claim.version);
    expect(after.claim.seq).toBe(2);
  });
});

describe('claims at their edges', () => {
  const opts = (now: Date, settleMs = 0) => ({ now, settleMs, via: 'poll' });

  it('reads the highest numbered claim of a month, ignoring other objects there', async () => {
    const { folder } = await month();
    for (const [seq, runId] of [
      [2, 'run-2'],
      [10, 'run-10'],
      [9, 'run-9'],
    ] as const)
      await folder.put(`state/ingest/2026-11/${String(seq).padStart(8, '0')}.json`, JSON.stringify({ seq, runId }));
    await folder.put('state/ingest/2026-11/00000099.json.tmp', JSON.stringify({ seq: 99, runId: 'partial' }));
    await folder.put('state/ingest/2026-11/notes.json', JSON.stringify({ seq: 100, runId: 'notes' }));
    expect(await latestClaim(folder, '2026-11')).toEqual({ seq: 10, runId: 'run-10' });
    expect(await latestClaim(folder, '2026-12')).toBeNull();
  });

  it('hashes each file on its own line: files whose fields run together differ', () => {
    const a = [
      { key: 'a', etag: 'e', bytes: 1, modified: T0 },
      { key: '2', etag: 'x', bytes: 3, modified: T0 },
    ];
    const b = [
      { key: 'a', etag: 'e', bytes: 12, modified: T0 },
      { key: '', etag: 'x', bytes: 3, modified: T0 },
    ];
    expect(versionOf(a)).not.toBe(versionOf(b));
    expect(versionOf(a)).toMatch(/^[0-9a-f]{32}$/);
  });

  it('waits for the most recently changed file to settle, and claims once it has been quiet exactly settleMs', async () => {
    const { folder } = await month();
    const youngest = Math.max(...(await folder.list('incoming/2026-11/')).map((o) => o.modified.getTime()));
    expect(await checkMonth(folder, '2026-11', opts(new Date(youngest + 4_000), 5_000))).toEqual({
      state: 'settling',
      recheckInMs: 1_000,
    });
    expect((await checkMonth(folder, '2026-11', opts(new Date(youngest + 5_000), 5_000))).state).toBe('claimed');
  });

  it('writes the claim as JSON (content type) with If-None-Match, then marks it sent as JSON', async () => {
    const { log, store, rbus, bus } = await month();
    expect(await ingest(store, rbus, at(60))).toBe('claimed');
    expect(log.effects().map((c) => [c.op, c.target, c.opts])).toEqual([
      ['put', 'state/ingest/2026-11/00000001.json', { contentType: 'application/json', ifNoneMatch: true }],
      ['publish', expect.stringMatching(/\.trigger$/), undefined],
      ['put', 'state/ingest/2026-11/00000001.json', { contentType: 'application/json' }],
    ]);
    await bus.close();
  });

  it('writes the claim as indented JSON ending with a newline, with If-None-Match', async () => {
    const { folder } = await month();
    const got = await checkMonth(folder, '2026-11', opts(at(60)));
    if (got.state !== 'claimed') throw new Error('expected a claim');
    expect((await folder.get('state/ingest/2026-11/00000001.json')).toString()).toBe(
      JSON.stringify(got.claim, null, 2) + '\n',
    );
    const sent = await sendClaim(folder, new MemoryBus(), got.claim, at(61));
    expect((await folder.get('state/ingest/2026-11/00000001.json')).toString()).toBe(
      JSON.stringify(sent, null, 2) + '\n',
    );
    expect(sent).toMatchObject({ status: 'sent', sentAt: at(61).toISOString() });
  });

  it("fails, rather than reporting the month taken, when the claim's write fails for another reason", async () => {
    const { folder } = await month();
    const down = Object.create(folder) as FolderStore;
    down.put = async () => {
      throw createError('BN_ERR_STORE_IO', 'HTTP 503 SlowDown', { retriable: true });
    };
    await expect(checkMonth(down, '2026-11', opts(at(60)))).rejects.toMatchObject({ code: 'BN_ERR_STORE_IO' });
    const odd = Object.create(folder) as FolderStore;
    odd.put = async () => {
      throw Object.assign(new Error('conflict?'), { details: { conflict: true } });
    };
    await expect(checkMonth(odd, '2026-11', opts(at(60)))).rejects.toThrow('conflict?');
  });

  it('sweeps the months in order, once their claims are graceMs old, skipping folders that are not months or hold no claim', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bn-claims-sweep-'));
    dirs.push(dir);
    const folder = new FolderStore(dir);
    for (const p of ['2026-12', '2026-10', '2026-11'])
      for (const n of ['erp', 'web', 'liaison']) await folder.put(`incoming/${p}/${n}.xlsx`, `${p} ${n}`);
    for (const p of ['2026-12', '2026-10']) await checkMonth(folder, p, opts(at(60)));
    await checkMonth(folder, '2026-11', opts(at(70)));
    await folder.put('state/ingest/2026-09/readme.txt', 'not a claim');
    // Folders that only contain a month's name are not months: their claims are not sent.
    for (const p of ['x2026-09', '2026-09x'])
      await folder.put(
        `state/ingest/${p}/00000001.json`,
        JSON.stringify({ status: 'pending', claimedAt: '2020-01-01', trigger: { partition: p } }),
      );
    await folder.put(
      'state/ingest/notes/00000001.json',
      JSON.stringify({ status: 'pending', claimedAt: '2020-01-01' }),
    );
    const bus = new MemoryBus();
    // At exactly graceMs the claims of 10 and 12 are due, not 11's.
    const sent = await sendPending(folder, bus, at(70), 10_000);
    expect(sent.map((c) => c.trigger.partition)).toEqual(['2026-10', '2026-12']);
    expect((await sendPending(folder, bus, at(80), 10_000)).map((c) => c.trigger.partition)).toEqual(['2026-11']);
    await bus.close();
  });
});
