import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect } from 'vitest';
import type { ObjectStore } from '../../ports/object-store.js';
import { contractIt, uniqueTag, type ContractOptions } from './helpers.js';

export type { ContractOptions } from './helpers.js';

/** What an object-store contract run needs: a fresh store, and a way to remove what it made. */
export interface ObjectStoreFixture {
  store: ObjectStore;
  /** Removes what `make` created (folder, bucket). */
  cleanup(): Promise<void>;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
  return Buffer.concat(chunks);
}

/** Unsafe keys and the exact message `validateKey` refuses each with. */
const UNSAFE_KEYS: readonly [string, string][] = [
  ['../x', 'object key "../x" is refused: it contains a "." or ".." segment'],
  ['/abs', 'object key "/abs" is refused: it is absolute'],
  ['a\u0000b', 'object key "a\\u0000b" is refused: it contains NUL or a control character'],
  ['k'.repeat(1025), `object key "${'k'.repeat(200)}" is refused: it is longer than 1024 bytes`],
];

/**
 * The behaviour every ObjectStore adapter must have, as a vitest suite: the folder store and S3
 * run the same tests. Every test writes under its own random prefix, so a shared bucket is fine.
 *
 * @example
 * objectStoreContract('FolderStore', async () => {
 *   const root = await mkdtemp(join(tmpdir(), 'bn-store-'));
 *   return { store: new FolderStore(root), cleanup: () => rm(root, { recursive: true, force: true }) };
 * });
 */
export function objectStoreContract(
  name: string,
  make: () => Promise<ObjectStoreFixture>,
  options: ContractOptions = {},
): void {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const { test, done } = contractIt(options, timeoutMs);

  describe(`ObjectStore contract: ${name}`, () => {
    let fx: ObjectStoreFixture;
    let store: ObjectStore;
    let p: string;
    let scratch: string;

    beforeEach(async () => {
      fx = await make();
      store = fx.store;
      p = `${uniqueTag('ct')}/`;
      scratch = await mkdtemp(join(tmpdir(), 'bn-contract-'));
    }, timeoutMs);

    afterEach(async () => {
      await rm(scratch, { recursive: true, force: true });
      await fx.cleanup();
    }, timeoutMs);

    test('put then get returns the same bytes, and PutResult has the right size and sha256', async () => {
      const text = 'product_id,price\n4954,24.2\nCh\u00e2teau \u2713\n';
      const r1 = await store.put(`${p}a.csv`, text);
      expect(r1).toEqual({ key: `${p}a.csv`, bytes: Buffer.byteLength(text), sha256: sha256(Buffer.from(text)) });
      expect((await store.get(`${p}a.csv`)).toString('utf8')).toBe(text);

      const bin = randomBytes(12_000);
      const r2 = await store.put(`${p}bin/data.parquet`, bin);
      expect(r2).toEqual({ key: `${p}bin/data.parquet`, bytes: 12_000, sha256: sha256(bin) });
      expect((await store.get(`${p}bin/data.parquet`)).equals(bin)).toBe(true);

      const empty = await store.put(`${p}empty`, Buffer.alloc(0));
      expect(empty).toEqual({ key: `${p}empty`, bytes: 0, sha256: sha256(Buffer.alloc(0)) });
      expect((await store.get(`${p}empty`)).length).toBe(0);
    });

    test('putStream stores what the stream gave, chunk after chunk', async () => {
      const chunks = Array.from({ length: 7 }, (_, i) => randomBytes(1000 + i * 977));
      const all = Buffer.concat(chunks);
      const r = await store.putStream(`${p}streamed.bin`, Readable.from(chunks));
      expect(r).toEqual({ key: `${p}streamed.bin`, bytes: all.length, sha256: sha256(all) });
      expect((await store.get(`${p}streamed.bin`)).equals(all)).toBe(true);
    });

    test('putFile stores the bytes of a local file', async () => {
      const bin = randomBytes(20_000);
      const local = join(scratch, 'in.bin');
      await writeFile(local, bin);
      const r = await store.putFile(`${p}file.bin`, local);
      expect(r).toEqual({ key: `${p}file.bin`, bytes: bin.length, sha256: sha256(bin) });
      expect((await store.get(`${p}file.bin`)).equals(bin)).toBe(true);
    });

    test("putFile with consume stores the file's bytes (the store may take the file instead of copying it)", async () => {
      const dir = await mkdtemp(join(tmpdir(), 'bn-consume-'));
      try {
        const local = join(dir, 'out.parquet');
        const bin = randomBytes(40_000);
        await writeFile(local, bin);
        const put = await store.putFile(`${p}consumed.bin`, local, { consume: true });
        expect(put).toEqual({
          key: `${p}consumed.bin`,
          bytes: bin.length,
          sha256: createHash('sha256').update(bin).digest('hex'),
        });
        expect((await store.get(`${p}consumed.bin`)).equals(bin)).toBe(true);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    test('head is null for an absent object and describes a present one', async () => {
      expect(await store.head(`${p}nothing`)).toBeNull();
      const t0 = Date.now();
      await store.put(`${p}h.txt`, 'hello');
      const info = await store.head(`${p}h.txt`);
      expect(info).not.toBeNull();
      expect(info!.key).toBe(`${p}h.txt`);
      expect(info!.bytes).toBe(5);
      expect(typeof info!.etag).toBe('string');
      expect(info!.etag.length).toBeGreaterThan(0);
      expect(info!.modified).toBeInstanceOf(Date);
      // Generous: S3 servers keep second precision and their own clock.
      expect(Math.abs(info!.modified.getTime() - t0)).toBeLessThan(5 * 60_000);
    });

    test('overwriting replaces the object and changes its etag', async () => {
      await store.put(`${p}o.txt`, 'one');
      const before = await store.head(`${p}o.txt`);
      const r = await store.put(`${p}o.txt`, 'two, longer');
      expect(r.bytes).toBe(11);
      expect((await store.get(`${p}o.txt`)).toString()).toBe('two, longer');
      const after = await store.head(`${p}o.txt`);
      expect(after!.bytes).toBe(11);
      expect(after!.etag).not.toBe(before!.etag);
      expect((await store.list(p)).map((o) => o.key)).toEqual([`${p}o.txt`]);
    });

    test('list gives the objects under a prefix only, sorted by key, with their sizes', async () => {
      const other = `${uniqueTag('ct')}/`;
      await store.put(`${p}b.txt`, 'bb');
      await store.put(`${p}a/2.txt`, '2222');
      await store.put(`${p}a/1.txt`, '1');
      await store.put(`${p}ab.txt`, 'ab');
      await store.put(`${p}A.txt`, 'A');
      await store.put(`${other}a/1.txt`, 'elsewhere');
      const all = await store.list(p);
      expect(all.map((o) => [o.key, o.bytes])).toEqual([
        [`${p}A.txt`, 1],
        [`${p}a/1.txt`, 1],
        [`${p}a/2.txt`, 4],
        [`${p}ab.txt`, 2],
        [`${p}b.txt`, 2],
      ]);
      expect((await store.list(`${p}a/`)).map((o) => o.key)).toEqual([`${p}a/1.txt`, `${p}a/2.txt`]);
      // A prefix is a string prefix, not a folder: `a` matches `a/...` and `ab.txt`.
      expect((await store.list(`${p}a`)).map((o) => o.key)).toEqual([`${p}a/1.txt`, `${p}a/2.txt`, `${p}ab.txt`]);
      expect(await store.list(`${p}none/`)).toEqual([]);
      expect(await store.list(`${uniqueTag('ct')}/`)).toEqual([]);
      await store.delete(`${other}a/1.txt`);
    });

    test('list under a prefix below an object is empty', async () => {
      await store.put(`${p}a`, 'an object named like a folder');
      expect(await store.list(`${p}a/`)).toEqual([]);
    });

    test('getStream streams the bytes of the object', async () => {
      const bin = randomBytes(70_000);
      await store.put(`${p}s.bin`, bin);
      expect((await readAll(await store.getStream(`${p}s.bin`))).equals(bin)).toBe(true);
    });

    test('getToFile gives a local file with the bytes of the object', async () => {
      const bin = randomBytes(12_000);
      await store.put(`${p}f.bin`, bin);
      const local = await store.getToFile(`${p}f.bin`);
      try {
        expect((await readFile(local.path)).equals(bin)).toBe(true);
      } finally {
        await local.release();
      }
      // Releasing the copy never touches the object.
      expect((await store.get(`${p}f.bin`)).equals(bin)).toBe(true);
    });

    test('get, getStream and getToFile of an absent object fail with BN_ERR_STORE_NOT_FOUND', async () => {
      const key = `${p}missing.txt`;
      const notFound = {
        code: 'BN_ERR_STORE_NOT_FOUND',
        message: `object ${key} is not in the store`,
        retriable: false,
      };
      await expect(store.get(key)).rejects.toMatchObject(notFound);
      await expect(store.getStream(key)).rejects.toMatchObject(notFound);
      await expect(store.getToFile(key)).rejects.toMatchObject(notFound);
    });

    test('get of a key that is only a folder of other objects fails with BN_ERR_STORE_NOT_FOUND', async () => {
      await store.put(`${p}dir/inner.txt`, 'x');
      expect(await store.head(`${p}dir`)).toBeNull();
      await expect(store.get(`${p}dir`)).rejects.toMatchObject({
        code: 'BN_ERR_STORE_NOT_FOUND',
        message: `object ${p}dir is not in the store`,
      });
    });

    test('ifMatch reads the version named, and refuses an object replaced since with details.precondition', async () => {
      const key = `${p}pinned.txt`;
      await store.put(key, 'version one');
      const v1 = (await store.head(key))!.etag;
      expect((await store.get(key, { ifMatch: v1 })).toString()).toBe('version one');
      const local = await store.getToFile(key, { ifMatch: v1 });
      await local.release();
      await store.put(key, 'version two, longer');
      const refused = {
        code: 'BN_ERR_STORE_IO',
        retriable: false,
        details: { precondition: true },
        message: `object ${key} changed since the version asked for (If-Match refused)`,
      };
      await expect(store.get(key, { ifMatch: v1 })).rejects.toMatchObject(refused);
      await expect(store.getToFile(key, { ifMatch: v1 })).rejects.toMatchObject(refused);
      await expect(store.getStream(key, { ifMatch: v1 })).rejects.toMatchObject(refused);
      expect((await store.get(key, { ifMatch: (await store.head(key))!.etag })).toString()).toBe('version two, longer');
    });

    test('delete removes the object and is idempotent', async () => {
      await store.put(`${p}d.txt`, 'x');
      await store.put(`${p}keep.txt`, 'y');
      await store.delete(`${p}d.txt`);
      expect(await store.head(`${p}d.txt`)).toBeNull();
      await expect(store.get(`${p}d.txt`)).rejects.toMatchObject({ code: 'BN_ERR_STORE_NOT_FOUND' });
      await store.delete(`${p}d.txt`);
      await store.delete(`${p}never-was.txt`);
      expect((await store.list(p)).map((o) => o.key)).toEqual([`${p}keep.txt`]);
    });

    test('ifNoneMatch: the first write wins, a second is refused with details.conflict', async () => {
      const key = `${p}once.json`;
      await store.put(key, 'first', { ifNoneMatch: true });
      const refused = store.put(key, 'second', { ifNoneMatch: true });
      await expect(refused).rejects.toMatchObject({
        code: 'BN_ERR_STORE_IO',
        message: `object ${key} already exists (conditional write refused)`,
        retriable: false,
        details: { conflict: true },
      });
      await expect(
        store.putStream(key, Readable.from([Buffer.from('third')]), { ifNoneMatch: true }),
      ).rejects.toMatchObject({ details: { conflict: true } });
      expect((await store.get(key)).toString()).toBe('first');
      expect((await store.list(p)).map((o) => o.key)).toEqual([key]);
    });

    test('ifNoneMatch: of two racing writes exactly one wins, and its bytes are stored', async () => {
      const key = `${p}race.json`;
      const results = await Promise.allSettled([
        store.put(key, 'writer A', { ifNoneMatch: true }),
        store.put(key, 'writer B', { ifNoneMatch: true }),
      ]);
      const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
      expect(won).toHaveLength(1);
      const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect(lost.reason).toMatchObject({ details: { conflict: true } });
      expect((await store.get(key)).toString()).toBe(won[0] === 0 ? 'writer A' : 'writer B');
    });

    test('a write whose stream fails leaves the previous object whole', async () => {
      const key = `${p}atomic.bin`;
      const old = randomBytes(5000);
      await store.put(key, old);
      let sent = 0;
      const failing = new Readable({
        read() {
          if (sent++ < 3) this.push(randomBytes(4096));
          else this.destroy(new Error('upload interrupted'));
        },
      });
      await expect(store.putStream(key, failing)).rejects.toThrow();
      expect((await store.get(key)).equals(old)).toBe(true);
      expect((await store.list(p)).map((o) => [o.key, o.bytes])).toEqual([[key, 5000]]);
    });

    test('writes refuse unsafe keys with BN_ERR_KEY_INVALID', async () => {
      const local = join(scratch, 'in.txt');
      await writeFile(local, 'x');
      for (const [key, message] of UNSAFE_KEYS) {
        const refused = { code: 'BN_ERR_KEY_INVALID', message, retriable: false };
        await expect(store.put(key, 'x')).rejects.toMatchObject(refused);
        await expect(store.put(key, 'x', { ifNoneMatch: true })).rejects.toMatchObject(refused);
        await expect(store.putStream(key, Readable.from([Buffer.from('x')]))).rejects.toMatchObject(refused);
        await expect(store.putFile(key, local)).rejects.toMatchObject(refused);
      }
    });

    test('reads refuse unsafe keys with BN_ERR_KEY_INVALID', async () => {
      for (const [key, message] of UNSAFE_KEYS) {
        const refused = { code: 'BN_ERR_KEY_INVALID', message, retriable: false };
        await expect(store.get(key)).rejects.toMatchObject(refused);
        await expect(store.getStream(key)).rejects.toMatchObject(refused);
        await expect(store.getToFile(key)).rejects.toMatchObject(refused);
        await expect(store.head(key)).rejects.toMatchObject(refused);
      }
    });

    test('delete refuses unsafe keys with BN_ERR_KEY_INVALID', async () => {
      for (const [key, message] of UNSAFE_KEYS) {
        await expect(store.delete(key)).rejects.toMatchObject({
          code: 'BN_ERR_KEY_INVALID',
          message,
          retriable: false,
        });
      }
    });

    done();
  });
}
