import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { objectStoreContract } from '../testing/contracts/object-store.js';
import { FolderStore } from './folder-store.js';

objectStoreContract(
  'FolderStore',
  async () => {
    const root = await mkdtemp(join(tmpdir(), 'bn-store-'));
    return { store: new FolderStore(root), cleanup: () => rm(root, { recursive: true, force: true }) };
  },
  { timeoutMs: 10_000 },
);

describe('FolderStore (adapter-specific)', () => {
  it('leaves no temporary file after a failed write', async () => {
    const root = await mkdtemp(join(tmpdir(), 'bn-store-'));
    const store = new FolderStore(root);
    const failing = new Readable({
      read() {
        this.push(Buffer.alloc(4096, 1));
        this.destroy(new Error('disk full'));
      },
    });
    await expect(store.putStream('staging/2026-01/r1/erp_clean.parquet', failing)).rejects.toMatchObject({
      code: 'BN_ERR_STORE_IO',
      message: 'writing staging/2026-01/r1/erp_clean.parquet failed: disk full',
      retriable: false,
    });
    expect(await readdir(join(root, 'staging', '2026-01', 'r1'))).toEqual([]);
    await rm(root, { recursive: true, force: true });
  });

  it('leaves no temporary file when the object cannot take its place (put and putStream)', async () => {
    const root = await mkdtemp(join(tmpdir(), 'bn-store-'));
    const store = new FolderStore(root);
    // `a/b` is a folder (it holds an object): a file cannot be renamed onto it.
    await store.put('a/b/c', 'x');
    await expect(store.put('a/b', 'in memory')).rejects.toMatchObject({ code: 'BN_ERR_STORE_IO' });
    await expect(store.putStream('a/b', Readable.from([Buffer.from('streamed')]))).rejects.toMatchObject({
      code: 'BN_ERR_STORE_IO',
    });
    expect(await readdir(join(root, 'a'))).toEqual(['b']);
    expect(await store.get('a/b/c')).toEqual(Buffer.from('x'));
    await rm(root, { recursive: true, force: true });
  });

  it('leaves no temporary file after a refused conditional write', async () => {
    const root = await mkdtemp(join(tmpdir(), 'bn-store-'));
    const store = new FolderStore(root);
    await store.put('a/once', '1', { ifNoneMatch: true });
    await expect(store.put('a/once', '2', { ifNoneMatch: true })).rejects.toMatchObject({
      details: { conflict: true },
    });
    expect(await readdir(join(root, 'a'))).toEqual(['once']);
    await rm(root, { recursive: true, force: true });
  });

  it('writes nothing outside its root for an unsafe key', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'bn-store-'));
    const store = new FolderStore(join(parent, 'root'));
    await expect(store.put('../escaped.txt', 'x')).rejects.toMatchObject({ code: 'BN_ERR_KEY_INVALID' });
    expect(existsSync(join(parent, 'escaped.txt'))).toBe(false);
    expect(existsSync(join(parent, 'root'))).toBe(false);
    await rm(parent, { recursive: true, force: true });
  });

  it('keeps objects as plain files under the root, and describe() names the file', async () => {
    const root = await mkdtemp(join(tmpdir(), 'bn-store-'));
    const store = new FolderStore(root);
    await store.put('extracts/2026-01/premium_wines.csv', 'a,b\n');
    expect(store.describe('extracts/2026-01/premium_wines.csv')).toBe(
      join(root, 'extracts', '2026-01', 'premium_wines.csv'),
    );
    expect((await store.getToFile('extracts/2026-01/premium_wines.csv')).path).toBe(
      join(root, 'extracts', '2026-01', 'premium_wines.csv'),
    );
    await rm(root, { recursive: true, force: true });
  });
});
