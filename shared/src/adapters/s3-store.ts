import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { PassThrough, Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  type ListObjectsV2CommandOutput,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { BottleneckError, createError } from '../errors/index.js';
import { validateKey } from '../keys.js';
import type { GetOptions, LocalFile, ObjectInfo, ObjectStore, PutOptions, PutResult } from '../ports/object-store.js';
import { redactSecrets } from '../text/redact.js';
import {
  isRetriableS3Error,
  isS3NotFound,
  isS3PreconditionFailed,
  s3HintFor,
  s3RetryAfterMs,
  sdkFields,
  statusOf,
} from './s3-errors.js';

export { isRetriableS3Error } from './s3-errors.js';

export interface S3StoreOptions {
  bucket: string;
  /** Key prefix inside the bucket (e.g. `bottleneck/`); a missing trailing `/` is added. */
  prefix?: string;
  /** An S3-compatible server (versitygw, S3Proxy...). Unset: AWS. */
  endpoint?: string;
  region: string;
  /** Path-style addressing (`http://host/bucket/key`); S3-compatible test servers need it. */
  forcePathStyle?: boolean;
  /** Explicit keys, for S3-compatible servers. Unset: the SDK's default credential chain (env, profile, IAM role). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /**
   * Attempts per S3 request, first included (default 3). The SDK retries throttling, 5xx and
   * network errors with jittered exponential backoff (retry mode `standard`); this adapter adds no
   * retry loop of its own.
   */
  maxAttempts?: number;
  /** Size of a multipart part, in bytes (default and minimum 5 MiB). Objects of at most one part go in one PutObject. */
  partSize?: number;
  /** Milliseconds to wait for a TCP connection (default 5,000). */
  connectionTimeoutMs?: number;
  /** Milliseconds a socket may stay idle during a request before it is abandoned (default 60,000). */
  socketTimeoutMs?: number;
}

const MIN_PART_SIZE = 5 * 1024 * 1024;

/**
 * The object store in an S3 bucket (AWS, or an S3-compatible server with `endpoint` and
 * `forcePathStyle`). Keys are validated before any request. Writes stream through lib-storage's
 * `Upload`: one PutObject up to `partSize`, a multipart upload beyond, each part buffered so the
 * SDK can retry it; S3 makes the object visible only when the upload completes, so readers never
 * see a part.
 *
 * A conditional write (`ifNoneMatch`) sends `If-None-Match: *`; S3's 412 becomes the same error the
 * folder store throws: BN_ERR_STORE_IO with `retriable: false` and `details.conflict: true`.
 *
 * @example
 * const store = new S3Store({ bucket: 'bottleneck', region: 'eu-west-3' });
 * const local = new S3Store({ bucket: 'it', region: 'us-east-1', endpoint: 'http://127.0.0.1:9000',
 *   forcePathStyle: true, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
 */
export class S3Store implements ObjectStore {
  readonly bucket: string;
  readonly prefix: string;
  private readonly client: S3Client;
  private readonly partSize: number;

  constructor(opts: S3StoreOptions) {
    if (!opts.bucket) throw createError('BN_ERR_CONFIG_INVALID', 'S3Store needs a bucket name');
    if (!opts.region)
      throw createError(
        'BN_ERR_CONFIG_INVALID',
        'S3Store needs a region (any value for an S3-compatible server, e.g. us-east-1)',
      );
    this.bucket = opts.bucket;
    const prefix = opts.prefix ?? '';
    this.prefix = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
    if (this.prefix) validateKey(this.prefix);
    this.partSize = Math.max(MIN_PART_SIZE, opts.partSize ?? MIN_PART_SIZE);
    this.client = new S3Client({
      region: opts.region,
      ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
      ...(opts.forcePathStyle !== undefined ? { forcePathStyle: opts.forcePathStyle } : {}),
      ...(opts.credentials ? { credentials: opts.credentials } : {}),
      maxAttempts: opts.maxAttempts ?? 3,
      retryMode: 'standard',
      requestHandler: {
        connectionTimeout: opts.connectionTimeoutMs ?? 5_000,
        // The idle timeout, which ends a frozen request with a TimeoutError. (`requestTimeout`, what
        // this once set, only logs a warning in @smithy/node-http-handler 4 unless told to throw:
        // a frozen server held every request until the process gave up on it.)
        socketTimeout: opts.socketTimeoutMs ?? 60_000,
      },
    });
  }

  /** The key in the bucket: the store's prefix and the validated key. */
  private s3Key(key: string): string {
    return this.prefix + validateKey(key);
  }

  describe(key: string): string {
    return `s3://${this.bucket}/${this.s3Key(key)}`;
  }

  /** Closes the SDK's sockets. */
  close(): void {
    this.client.destroy();
  }

  private notFound(key: string, cause?: unknown): BottleneckError {
    return createError('BN_ERR_STORE_NOT_FOUND', `object ${key} is not in the store`, { cause });
  }

  /** Turns an SDK or stream error into a BottleneckError; messages go through redactSecrets. */
  private ioError(op: string, key: string, e: unknown, where = this.describe(key)): BottleneckError {
    if (e instanceof BottleneckError) return e;
    const f = sdkFields(e);
    const status = statusOf(e);
    const what = [status !== undefined ? `HTTP ${status}` : '', f.name && f.name !== 'Error' ? f.name : (f.code ?? '')]
      .filter(Boolean)
      .join(' ');
    const text = redactSecrets(`${what ? `${what}: ` : ''}${f.message ?? String(e)}`);
    const attempts = f.$metadata?.attempts;
    const retryAfterMs = s3RetryAfterMs(e);
    const tries = attempts !== undefined && attempts > 1 ? ` after ${attempts} attempts` : '';
    return createError('BN_ERR_STORE_IO', `${op} ${where} failed${tries}: ${text}${s3HintFor(e, this.bucket)}`, {
      cause: e,
      retriable: isRetriableS3Error(e),
      details: {
        ...(status !== undefined ? { status } : {}),
        ...(f.name && f.name !== 'Error' ? { s3Code: f.name } : {}),
        ...(attempts !== undefined ? { attempts } : {}),
        ...(f.$metadata?.requestId ? { requestId: f.$metadata.requestId } : {}),
        ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      },
    });
  }

  async put(key: string, body: Buffer | string, opts?: PutOptions): Promise<PutResult> {
    const s3Key = this.s3Key(key);
    const buf = typeof body === 'string' ? Buffer.from(body) : body;
    await this.upload(key, s3Key, buf, opts);
    return { key, bytes: buf.length, sha256: createHash('sha256').update(buf).digest('hex') };
  }

  async putFile(key: string, path: string, opts?: PutOptions): Promise<PutResult> {
    this.s3Key(key);
    return this.putStream(key, createReadStream(path), opts);
  }

  async putStream(key: string, body: Readable, opts?: PutOptions): Promise<PutResult> {
    let s3Key: string;
    try {
      s3Key = this.s3Key(key);
    } catch (e) {
      body.destroy();
      throw e;
    }
    const hash = createHash('sha256');
    let bytes = 0;
    let sourceError: unknown;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        bytes += chunk.length;
        cb(null, chunk);
      },
    });
    // The source's own error (a failed read of another store, a missing file) is the one to report.
    body.once('error', (e) => {
      sourceError = e;
    });
    const piped = pipeline(body, counter).catch(() => undefined);
    try {
      await this.upload(key, s3Key, counter, opts);
    } catch (e) {
      if (sourceError !== undefined) throw this.ioError('writing', key, sourceError);
      throw e;
    } finally {
      if (!counter.destroyed && !counter.readableEnded) counter.destroy();
      await piped;
    }
    if (sourceError !== undefined) throw this.ioError('writing', key, sourceError);
    return { key, bytes, sha256: hash.digest('hex') };
  }

  private async upload(key: string, s3Key: string, body: Buffer | Readable, opts?: PutOptions): Promise<void> {
    const upload = new Upload({
      client: this.client,
      partSize: this.partSize,
      queueSize: 4,
      params: {
        Bucket: this.bucket,
        Key: s3Key,
        Body: body,
        ...(opts?.contentType ? { ContentType: opts.contentType } : {}),
        // Upload passes it to PutObject, or to CompleteMultipartUpload for a multipart object.
        ...(opts?.ifNoneMatch ? { IfNoneMatch: '*' } : {}),
      },
    });
    try {
      await upload.done();
    } catch (e) {
      if (opts?.ifNoneMatch && isS3PreconditionFailed(e)) {
        throw createError('BN_ERR_STORE_IO', `object ${key} already exists (conditional write refused)`, {
          cause: e,
          retriable: false,
          details: { conflict: true },
        });
      }
      throw this.ioError('writing', key, e);
    }
  }

  private async getBody(key: string, opts?: GetOptions): Promise<Readable> {
    const s3Key = this.s3Key(key);
    try {
      const ifMatch = opts?.ifMatch === undefined ? {} : { IfMatch: `"${opts.ifMatch}"` };
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: s3Key, ...ifMatch }));
      if (!(out.Body instanceof Readable)) throw new Error('GetObject returned no Node.js stream body');
      return out.Body;
    } catch (e) {
      if (isS3NotFound(e)) throw this.notFound(key, e);
      if (opts?.ifMatch !== undefined && isS3PreconditionFailed(e)) {
        throw createError('BN_ERR_STORE_IO', `object ${key} changed since the version asked for (If-Match refused)`, {
          cause: e,
          retriable: false,
          details: { precondition: true },
        });
      }
      throw this.ioError('reading', key, e);
    }
  }

  async get(key: string, opts?: GetOptions): Promise<Buffer> {
    const body = await this.getBody(key, opts);
    const chunks: Buffer[] = [];
    try {
      for await (const c of body) chunks.push(c as Buffer);
    } catch (e) {
      throw this.ioError('reading', key, e);
    }
    return Buffer.concat(chunks);
  }

  async getStream(key: string, opts?: GetOptions): Promise<Readable> {
    const body = await this.getBody(key, opts);
    const out = new PassThrough();
    // A failure in the middle of the body reaches the reader as a classified store error.
    body.on('error', (e) => out.destroy(this.ioError('reading', key, e)));
    out.on('close', () => {
      if (!body.destroyed) body.destroy();
    });
    body.pipe(out);
    return out;
  }

  async getToFile(key: string, opts?: GetOptions): Promise<LocalFile> {
    const name = basename(validateKey(key));
    const body = await this.getBody(key, opts);
    const dir = await mkdtemp(join(tmpdir(), 'bn-s3-'));
    const release = () => rm(dir, { recursive: true, force: true });
    // Keep the object's file name: DuckDB and exceljs look at the extension.
    const path = join(dir, name);
    try {
      await pipeline(body, createWriteStream(path));
    } catch (e) {
      await release();
      throw this.ioError('downloading', key, e);
    }
    return { path, release };
  }

  async head(key: string): Promise<ObjectInfo | null> {
    const s3Key = this.s3Key(key);
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: s3Key }));
      return {
        key,
        bytes: out.ContentLength ?? 0,
        etag: unquote(out.ETag ?? ''),
        modified: out.LastModified ?? new Date(0),
      };
    } catch (e) {
      if (isS3NotFound(e)) return null;
      throw this.ioError('stat', key, e);
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    if (prefix !== '') validateKey(prefix);
    const out: ObjectInfo[] = [];
    let token: string | undefined;
    do {
      let page: ListObjectsV2CommandOutput;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.prefix + prefix,
            ...(token ? { ContinuationToken: token } : {}),
          }),
        );
      } catch (e) {
        throw this.ioError('listing', prefix, e, `s3://${this.bucket}/${this.prefix}${prefix}`);
      }
      for (const o of page.Contents ?? []) {
        if (!o.Key?.startsWith(this.prefix)) continue;
        out.push({
          key: o.Key.slice(this.prefix.length),
          bytes: o.Size ?? 0,
          etag: unquote(o.ETag ?? ''),
          modified: o.LastModified ?? new Date(0),
        });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    const s3Key = this.s3Key(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: s3Key }));
    } catch (e) {
      if (isS3NotFound(e)) return;
      throw this.ioError('deleting', key, e);
    }
  }
}

function unquote(etag: string): string {
  return etag.replace(/^"(.*)"$/, '$1');
}
