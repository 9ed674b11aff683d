/**
 * S3Store against a real S3-compatible server (S3Proxy on loopback, started by global-setup.ts):
 * the ObjectStore contract, then what only S3 has (multipart, conditional multipart, error
 * classification and retries, keys refused before any request).
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { Readable } from 'node:stream';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s3ClientSettingsFor } from '../../shared/src/adapters/s3-errors.js';
import { S3Store, type S3StoreOptions } from '../../shared/src/adapters/s3-store.js';
import { objectStoreContract } from '../../shared/src/testing/contracts/object-store.js';

// AWS's documented example key id, split so that secret scanners do not flag a fake.
const FAKE_AWS_KEY_ID = ['AKIA', 'IOSFODNN7EXAMPLE'].join('');

function s3Env() {
  const endpoint = process.env.S3_ENDPOINT;
  if (!endpoint)
    throw new Error(
      'S3_ENDPOINT is not set: run through test/integration/vitest.config.ts (its global setup starts S3Proxy)',
    );
  return {
    endpoint,
    region: process.env.S3_REGION ?? 'us-east-1',
    forcePathStyle: true,
    credentials: {
      accessKeyId: process.env.S3_ACCESS_KEY_ID ?? 'test',
      secretAccessKey: process.env.S3_SECRET_ACCESS_KEY ?? 'test',
    },
  } satisfies Omit<S3StoreOptions, 'bucket'>;
}

const env = s3Env();
const bucket = `bn-it-s3-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
const admin = new S3Client({ ...env, maxAttempts: 1 });
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Empties and removes a bucket. */
async function dropBucket(name: string): Promise<void> {
  let token: string | undefined;
  do {
    const page = await admin.send(
      new ListObjectsV2Command({ Bucket: name, ...(token ? { ContinuationToken: token } : {}) }),
    );
    for (const o of page.Contents ?? []) await admin.send(new DeleteObjectCommand({ Bucket: name, Key: o.Key! }));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  await admin.send(new DeleteBucketCommand({ Bucket: name }));
}

beforeAll(async () => {
  await admin.send(new CreateBucketCommand({ Bucket: bucket }));
});

afterAll(async () => {
  await dropBucket(bucket);
  admin.destroy();
});

objectStoreContract('S3Store (S3Proxy)', async () => {
  const store = new S3Store({ bucket, ...env });
  return { store, cleanup: async () => store.close() };
});

objectStoreContract('S3Store (S3Proxy, key prefix inside the bucket)', async () => {
  const store = new S3Store({ bucket, prefix: 'tenant-a', ...env });
  return { store, cleanup: async () => store.close() };
});

/** Chunks of a buffer, as a stream of unknown length would give them. */
function chunked(buf: Buffer, size: number): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) parts.push(buf.subarray(i, i + size));
  return Readable.from(parts);
}

describe('S3Store on S3Proxy', () => {
  const store = new S3Store({ bucket, prefix: 'specific', ...env });
  afterAll(() => store.close());

  it('stores a 12,000-byte stream of unknown length as exactly those 12,000 bytes', async () => {
    const bin = randomBytes(12_000);
    const r = await store.putStream('streamed/12000.bin', chunked(bin, 1_000));
    expect(r).toEqual({ key: 'streamed/12000.bin', bytes: 12_000, sha256: sha256(bin) });
    // Read back through the SDK directly, not through the adapter under test.
    const raw = await admin.send(new GetObjectCommand({ Bucket: bucket, Key: 'specific/streamed/12000.bin' }));
    expect(raw.ContentLength).toBe(12_000);
    expect(Buffer.from(await raw.Body!.transformToByteArray()).equals(bin)).toBe(true);
  });

  it('uploads a 12 MiB stream as a multipart object and reads it back with the same sha256', async () => {
    const bin = randomBytes(12 * 1024 * 1024);
    const r = await store.putStream('multipart/12mib.bin', chunked(bin, 64 * 1024));
    expect(r).toEqual({ key: 'multipart/12mib.bin', bytes: bin.length, sha256: sha256(bin) });
    const info = await store.head('multipart/12mib.bin');
    expect(info?.bytes).toBe(bin.length);
    // A multipart ETag is "<md5 of the part md5s>-<parts>": 12 MiB in 5 MiB parts is 3 parts.
    expect(info?.etag).toMatch(/-3$/);
    expect(sha256(await readAll(await store.getStream('multipart/12mib.bin')))).toBe(sha256(bin));
  });

  it('refuses a conditional multipart write over an existing object, keeps the first, and leaves no upload behind', async () => {
    const first = randomBytes(6 * 1024 * 1024);
    await store.putStream('multipart/once.bin', chunked(first, 256 * 1024), { ifNoneMatch: true });
    const second = randomBytes(11 * 1024 * 1024);
    await expect(
      store.putStream('multipart/once.bin', chunked(second, 256 * 1024), { ifNoneMatch: true }),
    ).rejects.toMatchObject({
      code: 'BN_ERR_STORE_IO',
      message: 'object multipart/once.bin already exists (conditional write refused)',
      retriable: false,
      details: { conflict: true },
    });
    expect(sha256(await store.get('multipart/once.bin'))).toBe(sha256(first));
    const uploads = await admin.send(
      new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'specific/multipart/' }),
    );
    expect(uploads.Uploads ?? []).toEqual([]);
  });

  it('stores the content type given', async () => {
    await store.put('typed/manifest.json', '{}\n', { contentType: 'application/json' });
    const raw = await admin.send(new GetObjectCommand({ Bucket: bucket, Key: 'specific/typed/manifest.json' }));
    expect(raw.ContentType).toBe('application/json');
    await raw.Body!.transformToString();
  });

  it('getToFile downloads to a temporary file named like the object, and release() deletes it', async () => {
    const bin = randomBytes(3_000);
    await store.put('month/erp.xlsx', bin);
    const local = await store.getToFile('month/erp.xlsx');
    expect(local.path).toMatch(/\/erp\.xlsx$/);
    expect((await readFile(local.path)).equals(bin)).toBe(true);
    await local.release();
    expect(existsSync(local.path)).toBe(false);
  });

  it('describes objects as s3:// URLs with the prefix', () => {
    expect(store.describe('extracts/2026-11/_manifest.json')).toBe(
      `s3://${bucket}/specific/extracts/2026-11/_manifest.json`,
    );
  });

  it('reports the error of the source stream when it fails, and writes nothing', async () => {
    const failing = new Readable({
      read() {
        this.destroy(new Error('source broke'));
      },
    });
    await expect(store.putStream('broken/never.bin', failing)).rejects.toMatchObject({
      code: 'BN_ERR_STORE_IO',
      message: `writing s3://${bucket}/specific/broken/never.bin failed: source broke`,
      retriable: false,
    });
    expect(await store.head('broken/never.bin')).toBeNull();
  });

  it('refuses a missing bucket as a configuration problem, not retried', async () => {
    const missing = new S3Store({ bucket: `${bucket}-absent`, ...env });
    await expect(missing.put('x', 'y')).rejects.toMatchObject({
      code: 'BN_ERR_STORE_IO',
      retriable: false,
      message: `writing s3://${bucket}-absent/x failed: HTTP 404 NoSuchBucket: The specified bucket does not exist (bucket ${bucket}-absent does not exist: create it or fix the bucket setting)`,
      details: { status: 404, s3Code: 'NoSuchBucket', attempts: 1 },
    });
    missing.close();
  });

  it('refuses wrong credentials without retrying and without the credentials in the error', async () => {
    const accessKeyId = FAKE_AWS_KEY_ID;
    const secretAccessKey = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
    const wrong = new S3Store({ bucket, ...env, credentials: { accessKeyId, secretAccessKey } });
    const err = await wrong.get('anything').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'BN_ERR_STORE_IO', retriable: false, details: { status: 403, attempts: 1 } });
    expect((err as Error).message).toMatch(
      new RegExp(
        `^reading s3://${bucket}/anything failed: HTTP 403 \\w+: .+ \\(check the S3 credentials and the bucket policy\\)$`,
      ),
    );
    const shown = `${(err as Error).message} ${JSON.stringify(err)}`;
    expect(shown).not.toContain(secretAccessKey);
    expect(shown).not.toContain(accessKeyId);
    wrong.close();
  });
});

/** A fake S3 endpoint that counts requests and answers every one with the same status and S3 error code. */
async function fakeS3(
  status: number,
  code: string,
): Promise<{ url: string; requests(): number; close(): Promise<void> }> {
  let n = 0;
  const server: Server = createServer((req, res) => {
    n++;
    req.resume();
    req.on('end', () => {
      res.writeHead(status, { 'content-type': 'application/xml', 'x-amz-request-id': `fake-${n}` });
      res.end(
        req.method === 'HEAD'
          ? undefined
          : `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>fake ${code}</Message></Error>`,
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => n,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

describe('S3Store error classification and retries (a fake endpoint that counts requests)', () => {
  const opts = (url: string, maxAttempts = 3) => ({
    bucket: 'b',
    region: 'us-east-1',
    endpoint: url,
    forcePathStyle: true,
    maxAttempts,
    credentials: { accessKeyId: 'k', secretAccessKey: 's' },
  });

  it('refuses unsafe keys before any request', async () => {
    const fake = await fakeS3(404, 'NoSuchKey');
    const store = new S3Store(opts(fake.url));
    const local = new URL(import.meta.url).pathname;
    for (const key of ['../x', '/abs', 'a\u0000b', 'k'.repeat(1025), 'a//b', 'a\\b', '', './x']) {
      const refused = { code: 'BN_ERR_KEY_INVALID', retriable: false };
      await expect(store.put(key, 'x')).rejects.toMatchObject(refused);
      await expect(store.put(key, 'x', { ifNoneMatch: true })).rejects.toMatchObject(refused);
      await expect(store.putStream(key, Readable.from([Buffer.from('x')]))).rejects.toMatchObject(refused);
      await expect(store.putFile(key, local)).rejects.toMatchObject(refused);
      await expect(store.get(key)).rejects.toMatchObject(refused);
      await expect(store.getStream(key)).rejects.toMatchObject(refused);
      await expect(store.getToFile(key)).rejects.toMatchObject(refused);
      await expect(store.head(key)).rejects.toMatchObject(refused);
      await expect(store.delete(key)).rejects.toMatchObject(refused);
      expect(() => store.describe(key)).toThrow(expect.objectContaining(refused));
    }
    await expect(store.list('../')).rejects.toMatchObject({ code: 'BN_ERR_KEY_INVALID' });
    expect(fake.requests()).toBe(0);
    // The counter counts: a safe key does reach the endpoint.
    expect(await store.head('safe')).toBeNull();
    expect(fake.requests()).toBe(1);
    store.close();
    await fake.close();
  });

  it('retries 503 SlowDown within maxAttempts, then fails retriable with the attempt count', async () => {
    const fake = await fakeS3(503, 'SlowDown');
    const store = new S3Store(opts(fake.url, 3));
    await expect(store.get('k')).rejects.toMatchObject({
      code: 'BN_ERR_STORE_IO',
      retriable: true,
      message: 'reading s3://b/k failed after 3 attempts: HTTP 503 SlowDown: fake SlowDown',
      details: { status: 503, s3Code: 'SlowDown', attempts: 3 },
    });
    expect(fake.requests()).toBe(3);
    store.close();
    await fake.close();
  });

  it('retries 500 on writes too (the body is buffered per part), bounded by maxAttempts', async () => {
    const fake = await fakeS3(500, 'InternalError');
    const store = new S3Store(opts(fake.url, 2));
    await expect(store.putStream('k', Readable.from([randomBytes(1000)]))).rejects.toMatchObject({
      code: 'BN_ERR_STORE_IO',
      retriable: true,
      details: { status: 500, attempts: 2 },
    });
    expect(fake.requests()).toBe(2);
    store.close();
    await fake.close();
  });

  it('does not retry 403', async () => {
    const fake = await fakeS3(403, 'AccessDenied');
    const store = new S3Store(opts(fake.url, 3));
    await expect(store.list('x/')).rejects.toMatchObject({
      code: 'BN_ERR_STORE_IO',
      retriable: false,
      message:
        'listing s3://b/x/ failed: HTTP 403 AccessDenied: fake AccessDenied (check the S3 credentials and the bucket policy)',
    });
    expect(fake.requests()).toBe(1);
    store.close();
    await fake.close();
  });

  it('does not retry 400', async () => {
    const fake = await fakeS3(400, 'InvalidArgument');
    const store = new S3Store(opts(fake.url, 3));
    await expect(store.put('k', 'v')).rejects.toMatchObject({
      code: 'BN_ERR_STORE_IO',
      retriable: false,
      details: { status: 400 },
    });
    expect(fake.requests()).toBe(1);
    store.close();
    await fake.close();
  });

  it('treats a refused connection as retriable, after maxAttempts, with no credentials in the error', async () => {
    const fake = await fakeS3(200, 'unused');
    await fake.close();
    const store = new S3Store({
      ...opts(fake.url, 2),
      credentials: { accessKeyId: FAKE_AWS_KEY_ID, secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' },
    });
    const err = await store.head('k').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'BN_ERR_STORE_IO', retriable: true, details: { attempts: 2 } });
    expect((err as Error).message).toBe(
      `stat s3://b/k failed after 2 attempts: ECONNREFUSED: connect ECONNREFUSED ${new URL(fake.url).host}`,
    );
    expect(inspect(err, { depth: 3 })).not.toContain('wJalrXUtnFEMI');
    store.close();
  });

  it("ends a frozen request (connection accepted, no answer) at the socket timeout, in one attempt with the services' settings", async () => {
    let n = 0;
    const frozen = createServer((req) => {
      n++;
      req.resume();
    });
    await new Promise<void>((r) => frozen.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(frozen.address() as AddressInfo).port}`;
    // A 10 s retry budget: a 1 s socket timeout, one attempt (our retry owns the budget).
    const store = new S3Store({ ...opts(url), ...s3ClientSettingsFor(10_000) });
    const t = Date.now();
    await expect(store.head('staging/2026-11/r/_done/merge.validated.json')).rejects.toMatchObject({
      code: 'BN_ERR_STORE_IO',
      retriable: true,
      message: expect.stringMatching(
        /^stat s3:\/\/b\/staging\/2026-11\/r\/_done\/merge\.validated\.json failed: TimeoutError: /,
      ),
    });
    // Not before the timeout; and it did end (before, the setting only logged a warning and the request hung).
    expect(Date.now() - t).toBeGreaterThanOrEqual(1_000);
    expect(n).toBe(1);
    store.close();
    frozen.closeAllConnections();
    await new Promise((r) => frozen.close(r));
  });
});
