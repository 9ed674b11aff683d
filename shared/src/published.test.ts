import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FolderStore } from './adapters/folder-store.js';
import { createError } from './errors/index.js';
import { layout } from './keys.js';
import type { ObjectStore } from './ports/object-store.js';
import { readCurrent, readPublished, type CurrentPointer } from './published.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function store(): Promise<FolderStore> {
  const dir = await mkdtemp(join(tmpdir(), 'bn-published-'));
  dirs.push(dir);
  return new FolderStore(dir);
}

/** Two runs' sets of one month, and the pointer at the given one. */
async function twoSets(s: ObjectStore, current: 'a' | 'b'): Promise<void> {
  for (const run of ['a', 'b']) await s.put(layout.extracts('2026-11', run, 'merged_with_revenue.csv'), `set ${run}\n`);
  const pointer: CurrentPointer = {
    partition: '2026-11',
    runId: current,
    runStartedAt: '2026-11-30T10:00:00Z',
    prefix: `extracts/2026-11/${current}/`,
    manifestKey: layout.extracts('2026-11', current, '_manifest.json'),
    publishedAt: '2026-11-30T10:01:00Z',
    files: [
      {
        name: 'merged_with_revenue.csv',
        key: layout.extracts('2026-11', current, 'merged_with_revenue.csv'),
        bytes: 6,
        sha256: 'x',
        asset: 'merged_with_revenue',
      },
    ],
  };
  await s.put(layout.current('2026-11'), JSON.stringify(pointer));
}

describe('readers of extracts/ follow the pointer', () => {
  it('readCurrent: null when nothing is published for the month, the pointer otherwise', async () => {
    const s = await store();
    expect(await readCurrent(s, '2026-11')).toBeNull();
    await twoSets(s, 'b');
    expect(await readCurrent(s, '2026-11')).toMatchObject({ runId: 'b', partition: '2026-11' });
    expect(await readCurrent(s, '2026-10')).toBeNull();
  });

  it('readPublished reads the file of the run the pointer names, not of another set of the month', async () => {
    const s = await store();
    await twoSets(s, 'a');
    expect((await readPublished(s, '2026-11', 'merged_with_revenue.csv')).toString()).toBe('set a\n');
    await twoSets(s, 'b');
    expect((await readPublished(s, '2026-11', 'merged_with_revenue.csv')).toString()).toBe('set b\n');
  });

  it('readPublished names the month, the file and the run when the file is not in the set', async () => {
    const s = await store();
    await expect(readPublished(s, '2026-11', 'premium_wines.csv')).rejects.toMatchObject({
      code: 'BN_ERR_STORE_NOT_FOUND',
      message: 'premium_wines.csv is not published for 2026-11',
    });
    await twoSets(s, 'a');
    await expect(readPublished(s, '2026-11', 'premium_wines.csv')).rejects.toMatchObject({
      message: 'premium_wines.csv is not published for 2026-11 (run a)',
    });
  });

  it('readCurrent passes on any other failure of the store', async () => {
    const failing = {
      get: () => Promise.reject(createError('BN_ERR_STORE_IO', 'S3 unreachable', { retriable: true })),
    } as unknown as ObjectStore;
    await expect(readCurrent(failing, '2026-11')).rejects.toMatchObject({ code: 'BN_ERR_STORE_IO' });
  });
});
