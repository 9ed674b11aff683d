import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FolderStore } from '../adapters/folder-store.js';
import type { InputName } from '../keys.js';
import { Catalog } from './index.js';
import { dueDayWords, lateFrom, lateMonths, lateMonthsInStore, recordLate } from './late.js';

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
const folder = async () => {
  const d = await mkdtemp(join(tmpdir(), 'bn-late-'));
  dirs.push(d);
  return new FolderStore(d);
};
const files = (...n: InputName[]) => new Set<InputName>(n);

describe('when a month is late', () => {
  it("November's files are due by 5 December: late from midnight after it, Paris time (winter and summer)", () => {
    expect(lateFrom('2026-11', 5).toISOString()).toBe('2026-12-05T23:00:00.000Z');
    expect(lateFrom('2026-05', 5).toISOString()).toBe('2026-06-05T22:00:00.000Z');
    expect(lateFrom('2026-12', 28).toISOString()).toBe('2027-01-28T23:00:00.000Z');
    expect(dueDayWords('2026-12', 1)).toBe('1 January 2027');
  });

  const facts = {
    known: ['2026-09'],
    present: new Map([
      ['2026-09', files('erp', 'web', 'liaison')],
      ['2026-10', files('erp', 'web')],
    ]),
    published: new Set(['2026-09']),
  };

  it('one second before the end of the due day: not late; at it: late, naming the missing files', () => {
    expect(lateMonths(facts, new Date('2026-11-05T22:59:59Z'), 5)).toEqual([]);
    expect(lateMonths(facts, new Date('2026-11-05T23:00:00Z'), 5)).toEqual([
      {
        partition: '2026-10',
        missing: ['liaison'],
        lateSince: '2026-11-05T23:00:00.000Z',
        words: 'late: liaison.xlsx was due by 5 November 2026 (BN_FILES_DUE_DAY=5) and has not arrived',
      },
    ]);
  });

  it('a month nothing arrived for is late too (from the earliest month the store knows), a published or dismissed one never', () => {
    const late = lateMonths(facts, new Date('2026-12-20T12:00:00Z'), 5);
    expect(late.map((l) => [l.partition, l.missing])).toEqual([
      ['2026-10', ['liaison']],
      ['2026-11', ['erp', 'web', 'liaison']],
    ]);
    expect(late[1]!.words).toBe(
      'late: erp.xlsx, web.xlsx and liaison.xlsx were due by 5 December 2026 (BN_FILES_DUE_DAY=5) and have not arrived',
    );
    expect(
      lateMonths({ ...facts, dismissed: new Set(['2026-10']) }, new Date('2026-12-20T12:00:00Z'), 5).map(
        (l) => l.partition,
      ),
    ).toEqual(['2026-11']);
    expect(lateMonths({ known: [], present: new Map(), published: new Set() }, new Date(), 5)).toEqual([]);
  });
});

describe('lateness in the store', () => {
  it('from the listings alone; the record of a late month is written once', async () => {
    const store = await folder();
    await store.put('incoming/2026-10/erp.xlsx', 'x');
    await store.put('extracts/2026-09/_current.json', '{}');
    const late = await lateMonthsInStore(store, new Date('2026-12-20T12:00:00Z'), 5);
    expect(late.map((l) => l.partition)).toEqual(['2026-10', '2026-11']);
    const first = await recordLate(store, late[0]!, new Date('2026-12-20T12:00:00Z'));
    expect(first).toMatchObject({ partition: '2026-10', alert: { status: 'pending', attempts: 0 } });
    expect(await recordLate(store, late[0]!, new Date('2026-12-20T12:01:00Z'))).toBeNull();
  });

  it('the catalog shows late months (status late, in words), the ones with nothing too; unset, nothing is late', async () => {
    const store = await folder();
    await store.put('incoming/2026-10/erp.xlsx', 'x');
    await store.put('incoming/2026-10/web.xlsx', 'x');
    const graph = { assets: [] };
    const at = () => new Date('2026-12-20T12:00:00Z');
    const s = await new Catalog(store, graph, at, { filesDueDay: 5 }).snapshot();
    expect(s.partitions.map((p) => [p.partition, p.status, p.late?.missing])).toEqual([
      ['2026-10', 'late', ['liaison']],
      ['2026-11', 'late', ['erp', 'web', 'liaison']],
    ]);
    expect(s.partitions[0]!.words).toBe(
      'late: liaison.xlsx was due by 5 November 2026 (BN_FILES_DUE_DAY=5) and has not arrived',
    );
    const off = await new Catalog(store, graph, at).snapshot();
    expect(off.partitions.map((p) => [p.partition, p.status])).toEqual([['2026-10', 'waiting-for-files']]);
  });
});
