import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FolderStore } from '../adapters/folder-store.js';
import { exportCsv } from '../duck/export.js';
import { Duck } from '../duck/index.js';
import { StoreIO } from './io.js';

const duck = new Duck();
const dirs: string[] = [];
afterAll(async () => {
  await duck.close();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('StoreIO.observed: a source hashed by a stage of this process is not hashed again', () => {
  it('trusts the hash while the ETag holds, and hashes again (and refuses) once the object changed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bn-io-'));
    dirs.push(dir);
    const store = new FolderStore(dir);
    const io = new StoreIO(store, duck, exportCsv);
    const key = 'incoming/2026-11/web.xlsx';
    await store.put(key, 'the bytes ingest read');
    const etag = (await store.head(key))!.etag;
    // A data version that is not the bytes' hash: only a load that does not hash again accepts it.
    const version = sha('what ingest hashed');
    const m = { location: key, dataVersion: version, metadata: { durationMs: 0 } };
    const scope = await io.openScope();
    try {
      await expect(io.load('raw_web', m, scope)).rejects.toMatchObject({ code: 'BN_ERR_EVENT_INVALID' });
      io.observed(key, version, etag);
      await expect(io.load('raw_web', m, scope)).resolves.toMatchObject({ materialization: m });
      await store.put(key, 'other bytes, written since');
      await expect(io.load('raw_web', m, scope)).rejects.toMatchObject({
        code: 'BN_ERR_EVENT_INVALID',
        message: expect.stringMatching(/^raw_web at incoming\/2026-11\/web\.xlsx is not the version the event names/),
      });
    } finally {
      await io.closeScope(scope);
    }
  });
});
