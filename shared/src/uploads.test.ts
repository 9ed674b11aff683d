import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FolderStore } from './adapters/folder-store.js';
import { recordUnrecognised, unrecognisedKey, unrecognisedReason } from './uploads.js';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('unrecognisedReason', () => {
  it.each([
    [
      'incomming/2029-02/x.xlsx',
      'incomming/2029-02/x.xlsx is outside incoming/ (incomming/ looks like a misspelt incoming/): the pipeline reads only incoming/YYYY-MM/{erp.xlsx, web.xlsx, liaison.xlsx}; move it to incoming/YYYY-MM/',
    ],
    [
      'uploads/erp.xlsx',
      'uploads/erp.xlsx is outside incoming/: the pipeline reads only incoming/YYYY-MM/{erp.xlsx, web.xlsx, liaison.xlsx}; move it to incoming/YYYY-MM/',
    ],
    [
      'incoming/erp.xlsx',
      'incoming/erp.xlsx has no month folder: put it under incoming/YYYY-MM/ (the month its figures are for)',
    ],
    [
      'incoming/2028-13/erp.xlsx',
      'incoming/2028-13/erp.xlsx: 2028-13 is not a month (YYYY-MM, the month 01 to 12); move the file to the right month folder',
    ],
    [
      'incoming/march/erp.xlsx',
      'incoming/march/erp.xlsx: incoming/march/ is not a month folder (YYYY-MM); move the file to incoming/YYYY-MM/',
    ],
    [
      'incoming/2026-03/ERP final.xlsx',
      'incoming/2026-03/ERP final.xlsx: ERP final.xlsx is not one of erp.xlsx, web.xlsx, liaison.xlsx (the only files read in incoming/2026-03/); rename it, or remove it',
    ],
  ])('%s', (key, why) => {
    expect(unrecognisedReason(key)).toBe(why);
  });

  it('is null for what the pipeline places or writes itself', () => {
    for (const k of [
      'incoming/2026-03/erp.xlsx',
      'incoming/2026-12/liaison.xlsx',
      'runs/2026-03/r/ingest.json',
      'staging/2026-03/r/x.parquet',
      'state/ingest/2026-03/00000001.json',
      'extracts/2026-03/_current.json',
      'refused/2026-03/x.json',
      'dead-letter/2026-03/r.json',
      'incoming/2026-03/',
      'top-level-file.txt',
    ])
      expect(unrecognisedReason(k), k).toBeNull();
  });
});

describe('recordUnrecognised', () => {
  it('records key, size, when and why once per key', async () => {
    const d = await mkdtemp(join(tmpdir(), 'bn-uploads-'));
    dirs.push(d);
    const store = new FolderStore(d);
    await store.put('incomming/2029-02/x.xlsx', 'abc');
    const [o] = await store.list('incomming/');
    const now = new Date('2026-12-06T03:00:00Z');
    const r = await recordUnrecognised(store, o!, 'poll', now);
    expect(r).toMatchObject({
      key: 'incomming/2029-02/x.xlsx',
      bytes: 3,
      seenAt: '2026-12-06T03:00:00.000Z',
      via: 'poll',
      alert: { status: 'pending', attempts: 0 },
    });
    expect(await recordUnrecognised(store, o!, 'notification', now)).toBeNull();
    expect((await store.list('state/unrecognised/')).map((x) => x.key)).toEqual([
      unrecognisedKey('incomming/2029-02/x.xlsx'),
    ]);
    await store.put('incoming/2026-03/erp.xlsx', 'x');
    const [ok] = await store.list('incoming/');
    expect(await recordUnrecognised(store, ok!, 'poll', now)).toBeNull();
  });
});
