import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FolderStore } from '../adapters/folder-store.js';
import { IndexedRecords } from '../catalog/indexed.js';
import { JsonCache } from '../catalog/sources.js';
import { CallLog, Crash, recordingStore } from '../testing/recording.js';
import { runRecordKey, writeStageRecord, type StageRecord } from './record.js';
import { RUN_INDEX_PREFIX, indexKey, readMonthIndex, updateMonthIndex } from './run-index.js';

const M = '2026-11';

function rec(runId: string, stage: string, status: StageRecord['status'] = 'succeeded'): StageRecord {
  return {
    runId,
    partition: M,
    stage,
    status,
    runStartedAt: '2026-12-01T00:00:00.000Z',
    consumed: { id: `${runId}.t`, type: 'trigger', ts: '2026-12-01T00:00:00.000Z', source: 'upload' },
    event: {} as StageRecord['event'],
    startedAt: '2026-12-01T00:00:00.000Z',
    emitted: [],
    materializations: {},
    checks: [],
    codeVersion: 'v1',
  };
}

let dir: string;
let store: FolderStore;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bn-run-index-'));
  store = new FolderStore(dir);
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const indexed = async () => {
  const { index } = await readMonthIndex(store, M);
  return Object.fromEntries(Object.entries(index?.entries ?? {}).map(([k, e]) => [k, e.record.status]));
};
const statuses = async (src: IndexedRecords) => {
  const json = new JsonCache(store);
  const l = await src.list();
  return Object.fromEntries(
    await Promise.all(l.map(async (o) => [o.key, (await json.get<StageRecord>(o))?.status] as const)),
  );
};

describe('the run index', () => {
  it('is updated as each record is written: the newest generation holds every record, older ones are deleted', async () => {
    await writeStageRecord(store, rec('r1', 'ingest', 'running'));
    await writeStageRecord(store, rec('r1', 'ingest'));
    await writeStageRecord(store, rec('r1', 'clean', 'failed'));
    expect(await indexed()).toEqual({
      [runRecordKey(M, 'r1', 'ingest')]: 'succeeded',
      [runRecordKey(M, 'r1', 'clean')]: 'failed',
    });
    const gens = (await store.list(`${RUN_INDEX_PREFIX}${M}/`)).map((o) => o.key);
    expect(gens).toEqual([indexKey(M, 2), indexKey(M, 3)]);
  });

  it('loses no update when writers race for the same generation (If-None-Match)', async () => {
    const stages = ['ingest', 'clean', 'merge', 'analytics', 'publisher', 'alerter'];
    await Promise.all(
      ['r1', 'r2', 'r3'].flatMap((r) => stages.map((s) => writeStageRecord(new FolderStore(dir), rec(r, s)))),
    );
    expect(Object.keys(await indexed())).toHaveLength(18);
  });

  it('takes the runs from the index, not from a listing of runs/, once verified', async () => {
    await writeStageRecord(store, rec('r1', 'ingest'));
    const log = new CallLog();
    let t = 0;
    const src = new IndexedRecords(recordingStore(store, log), new JsonCache(store), { clock: () => t });
    await src.list(); // the first listing verifies against the records
    expect(log.calls.some((c) => c.op === 'list' && c.target === 'runs/')).toBe(true);
    log.restart();
    await writeStageRecord(store, rec('r2', 'ingest'));
    t = 1_000;
    expect(Object.keys(await statuses(src))).toEqual([
      runRecordKey(M, 'r1', 'ingest'),
      runRecordKey(M, 'r2', 'ingest'),
    ]);
    expect(log.calls.filter((c) => c.op === 'list').map((c) => c.target)).toEqual([RUN_INDEX_PREFIX]);
  });

  it('is rebuilt from the records when it is missing (records written before the index existed)', async () => {
    for (const s of ['ingest', 'clean']) await store.put(runRecordKey(M, 'r1', s), JSON.stringify(rec('r1', s)));
    const src = new IndexedRecords(store, new JsonCache(store));
    expect(Object.values(await statuses(src))).toEqual(['succeeded', 'succeeded']);
    expect(Object.keys(await indexed())).toHaveLength(2);
  });

  it('is repaired after a crash between the record and its index update, and when it is corrupt', async () => {
    await writeStageRecord(store, rec('r1', 'ingest', 'running'));
    // The process dies after the record's put, before the index's.
    const log = new CallLog({ crashAt: 2 });
    await writeStageRecord(recordingStore(store, log), rec('r1', 'ingest', 'failed'));
    expect(log.crashed).toBeInstanceOf(Crash);
    expect(await indexed()).toEqual({ [runRecordKey(M, 'r1', 'ingest')]: 'running' });
    let t = 0;
    const src = new IndexedRecords(store, new JsonCache(store), { clock: () => t, verifyMs: 60_000 });
    // What the console shows is what the record says, and the index is repaired to it.
    expect(Object.values(await statuses(src))).toEqual(['failed']);
    expect(await indexed()).toEqual({ [runRecordKey(M, 'r1', 'ingest')]: 'failed' });
    // A corrupt newest generation: the next listing goes back to the records and writes a good one.
    const { gen } = await readMonthIndex(store, M);
    await store.put(indexKey(M, gen + 1), '{"v":1,"month":"2026-11","gen":');
    t = 1_000;
    expect(Object.values(await statuses(src))).toEqual(['failed']);
    expect(await indexed()).toEqual({ [runRecordKey(M, 'r1', 'ingest')]: 'failed' });
  });

  it('drops a record deleted from the store at the next verification, keeps one written after it listed', async () => {
    await writeStageRecord(store, rec('r1', 'ingest'));
    await writeStageRecord(store, rec('r2', 'ingest'));
    await store.delete(runRecordKey(M, 'r1', 'ingest'));
    let t = 0;
    const src = new IndexedRecords(store, new JsonCache(store), { clock: () => t, verifyMs: 10 });
    expect(Object.keys(await statuses(src))).toEqual([runRecordKey(M, 'r2', 'ingest')]);
    expect(Object.keys(await indexed())).toEqual([runRecordKey(M, 'r2', 'ingest')]);
    t = 5;
    expect(Object.keys(await statuses(src))).toEqual([runRecordKey(M, 'r2', 'ingest')]);
  });

  it('refuses a month that is not one, and writes nothing when nothing changes', async () => {
    await expect(updateMonthIndex(store, 'nope', () => ({}))).rejects.toThrow(RangeError);
    await writeStageRecord(store, rec('r1', 'ingest'));
    const before = await store.list(RUN_INDEX_PREFIX);
    await updateMonthIndex(store, M, () => null);
    expect(await store.list(RUN_INDEX_PREFIX)).toEqual(before);
  });
});
