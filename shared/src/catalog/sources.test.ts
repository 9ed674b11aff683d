import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FolderStore } from '../adapters/folder-store.js';
import { byMonth, JsonCache, listSources } from './sources.js';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('sources', () => {
  it('lists each source apart (hourly groups are no refused events), and the version changes with any of them', async () => {
    const d = await mkdtemp(join(tmpdir(), 'bn-sources-'));
    dirs.push(d);
    const store = new FolderStore(d);
    await store.put('runs/2026-03/r1/ingest.json', '{}');
    await store.put('refused/2026-03/bus-a-0-1.json', '{}');
    await store.put('refused/_hourly/unsigned-20261206T03.json', '{}');
    await store.put('state/unrecognised/abc.json', '{}');
    await store.put('extracts/2026-03/_current.json', '{}');
    await store.put('extracts/2026-03/r1/x.csv', 'x');
    const s = await listSources(store);
    expect(s.records.map((o) => o.key)).toEqual(['runs/2026-03/r1/ingest.json']);
    expect(s.refused.map((o) => o.key)).toEqual(['refused/2026-03/bus-a-0-1.json']);
    expect(s.unrecognised.map((o) => o.key)).toEqual(['state/unrecognised/abc.json']);
    expect(s.pointers.map((o) => o.key)).toEqual(['extracts/2026-03/_current.json']);
    await store.put('state/unrecognised/def.json', '{}');
    expect((await listSources(store)).version).not.toBe(s.version);
    // The cache reads an object again only when its ETag changed.
    const cache = new JsonCache(store);
    await store.put('runs/2026-03/r1/ingest.json', '{"a":1}');
    const [o] = (await listSources(store)).records;
    expect(await cache.get(o!)).toEqual({ a: 1 });
  });

  it('byMonth keeps only real months', () => {
    const o = (key: string) => ({ key, etag: '', bytes: 0, modified: new Date(0) });
    const m = byMonth(
      [o('incoming/2026-03/erp.xlsx'), o('incoming/2026-13/erp.xlsx'), o('incoming/erp.xlsx')],
      'incoming/',
    );
    expect([...m.keys()]).toEqual(['2026-03']);
  });
});
