import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { link, mkdir, readFile, readdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BottleneckError, createError, errorMessage, isTransientIoError } from '../errors/index.js';
import { validateKey } from '../keys.js';
import type { GetOptions, LocalFile, ObjectInfo, ObjectStore, PutOptions, PutResult } from '../ports/object-store.js';

const TMP_MARK = '.bn-tmp-';

function notFound(key: string, cause?: unknown): BottleneckError {
  return createError('BN_ERR_STORE_NOT_FOUND', `object ${key} is not in the store`, { cause });
}

function changed(key: string): BottleneckError {
  return createError('BN_ERR_STORE_IO', `object ${key} changed since the version asked for (If-Match refused)`, {
    retriable: false,
    details: { precondition: true },
  });
}

function ioError(op: string, key: string, e: unknown): BottleneckError {
  return createError('BN_ERR_STORE_IO', `${op} ${key} failed: ${errorMessage(e)}`, {
    cause: e,
    retriable: isTransientIoError(e),
  });
}

/**
 * The object store as a local folder. Each write goes to a temporary file beside its target and
 * is renamed into place, so readers never see a partial object.
 */
export class FolderStore implements ObjectStore {
  constructor(readonly root: string) {}

  private pathOf(key: string): string {
    return join(this.root, ...validateKey(key).split('/'));
  }

  describe(key: string): string {
    return this.pathOf(key);
  }

  /**
   * A body already in memory: hashed as it is and written with one call, no stream (run records,
   * logs, markers and the run index are written this way, several times per stage), with the same
   * temporary file, rename or link, and errors as `putStream`.
   */
  async put(key: string, body: Buffer | string, opts?: PutOptions): Promise<PutResult> {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    return this.place(key, opts, (tmp) => writeFile(tmp, bytes), {
      bytes: bytes.length,
      sha256: () => createHash('sha256').update(bytes).digest('hex'),
    });
  }

  async putFile(key: string, path: string, opts?: PutOptions): Promise<PutResult> {
    if (opts?.consume && !opts.ifNoneMatch) {
      // Hash the file once, then move it into place: no second copy of a large output.
      const target = this.pathOf(key);
      const hash = createHash('sha256');
      let bytes = 0;
      for await (const chunk of createReadStream(path)) {
        hash.update(chunk as Buffer);
        bytes += (chunk as Buffer).length;
      }
      try {
        await mkdir(dirname(target), { recursive: true });
        await rename(path, target);
        return { key, bytes, sha256: hash.digest('hex') };
      } catch (e) {
        // Another file system (EXDEV): copy as usual.
        if ((e as { code?: string }).code !== 'EXDEV') throw ioError('writing', key, e);
      }
    }
    const put = await this.putStream(key, createReadStream(path), opts);
    if (opts?.consume) await unlink(path).catch(() => undefined);
    return put;
  }

  async putStream(key: string, body: Readable, opts?: PutOptions): Promise<PutResult> {
    const hash = createHash('sha256');
    let bytes = 0;
    let out: WriteStream | undefined;
    return this.place(
      key,
      opts,
      async (tmp) => {
        const counter = new Transform({
          transform(chunk: Buffer, _enc, cb) {
            hash.update(chunk);
            bytes += chunk.length;
            cb(null, chunk);
          },
        });
        out = createWriteStream(tmp);
        await pipeline(body, counter, out);
      },
      { bytes: () => bytes, sha256: () => hash.digest('hex') },
      // A body that fails at once can reject the pipeline before the file stream has even opened
      // its file: the stream then creates it and closes it afterwards. Wait for that close, or
      // the unlink runs first and the temporary file stays behind.
      async () => {
        if (out) await closed(out);
      },
    );
  }

  /**
   * Writes an object: `write` fills a temporary file beside the target, which is then renamed into
   * place (or linked, for If-None-Match), so readers never see a partial object.
   */
  private async place(
    key: string,
    opts: PutOptions | undefined,
    write: (tmp: string) => Promise<void>,
    result: { bytes: number | (() => number); sha256: () => string },
    onError?: () => Promise<void>,
  ): Promise<PutResult> {
    const target = this.pathOf(key);
    const tmp = join(dirname(target), `${TMP_MARK}${randomBytes(6).toString('hex')}`);
    try {
      await mkdir(dirname(target), { recursive: true });
      await write(tmp);
      if (opts?.ifNoneMatch) {
        try {
          await link(tmp, target);
        } catch (e) {
          if ((e as { code?: string }).code === 'EEXIST') {
            throw createError('BN_ERR_STORE_IO', `object ${key} already exists (conditional write refused)`, {
              retriable: false,
              details: { conflict: true },
            });
          }
          throw e;
        } finally {
          await unlink(tmp).catch(() => undefined);
        }
      } else {
        await rename(tmp, target);
      }
    } catch (e) {
      await onError?.();
      await unlink(tmp).catch(() => undefined);
      if (e instanceof BottleneckError) throw e;
      throw ioError('writing', key, e);
    }
    return {
      key,
      bytes: typeof result.bytes === 'number' ? result.bytes : result.bytes(),
      sha256: result.sha256(),
    };
  }

  /** Refuses a read when the object is no longer the version `ifMatch` names. */
  private async checkVersion(key: string, opts?: GetOptions): Promise<void> {
    if (opts?.ifMatch === undefined) return;
    const info = await this.head(key);
    if (!info) throw notFound(key);
    if (info.etag !== opts.ifMatch) throw changed(key);
  }

  async get(key: string, opts?: GetOptions): Promise<Buffer> {
    try {
      await this.checkVersion(key, opts);
      return await readFile(this.pathOf(key));
    } catch (e) {
      // A folder, or a path below a file, is no object either: as S3 says NoSuchKey.
      if (['ENOENT', 'EISDIR', 'ENOTDIR'].includes((e as { code?: string }).code ?? '')) throw notFound(key, e);
      if (e instanceof BottleneckError) throw e;
      throw ioError('reading', key, e);
    }
  }

  async getStream(key: string, opts?: GetOptions): Promise<Readable> {
    const p = this.pathOf(key);
    if (!(await this.head(key))) throw notFound(key);
    await this.checkVersion(key, opts);
    return createReadStream(p);
  }

  async getToFile(key: string, opts?: GetOptions): Promise<LocalFile> {
    const p = this.pathOf(key);
    if (!(await this.head(key))) throw notFound(key);
    await this.checkVersion(key, opts);
    // The object is a local file already: hand out its path, nothing to copy or remove.
    return { path: p, release: async () => undefined };
  }

  async head(key: string): Promise<ObjectInfo | null> {
    try {
      const s = await stat(this.pathOf(key));
      if (!s.isFile()) return null;
      return { key, bytes: s.size, etag: `${s.size}-${Math.floor(s.mtimeMs)}-${s.ino}`, modified: s.mtime };
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT' || (e as { code?: string }).code === 'ENOTDIR') return null;
      if (e instanceof BottleneckError) throw e;
      throw ioError('stat', key, e);
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const dirKey = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const start = dirKey ? this.pathOf(dirKey) : this.root;
    let entries: string[];
    try {
      entries = await readdir(start, { recursive: true });
    } catch (e) {
      if (['ENOENT', 'ENOTDIR'].includes((e as { code?: string }).code ?? '')) return [];
      throw ioError('listing', prefix, e);
    }
    const keys = entries
      .map((rel) => relative(this.root, join(start, rel)).split(sep).join('/'))
      .filter((key) => key.startsWith(prefix) && !key.split('/').some((s) => s.startsWith(TMP_MARK)));
    // The stats at once (libuv's pool runs them in parallel): the console lists hundreds of run records.
    const out = (await Promise.all(keys.map((key) => this.head(key)))).filter(
      (info): info is ObjectInfo => info !== null,
    );
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    try {
      await unlink(this.pathOf(key));
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') return;
      if (e instanceof BottleneckError) throw e;
      throw ioError('deleting', key, e);
    }
  }
}

/** Resolves once `out` has closed its file (destroying it first if it is still open). */
async function closed(out: WriteStream): Promise<void> {
  if (out.closed) return;
  const done = new Promise<void>((resolve) => out.once('close', () => resolve()));
  if (!out.destroyed) out.destroy();
  await done;
}
