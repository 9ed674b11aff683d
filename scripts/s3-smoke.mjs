// Smoke test of the local S3 server against what @aws-sdk/client-s3 v3 really sends.
//
//   node scripts/s3-smoke.mjs [endpoint]        (endpoint default: $S3_ENDPOINT)
//
// Credentials come from S3_ACCESS_KEY_ID / S3_SECRET_ACCESS_KEY (default test/test), region from
// S3_REGION (default us-east-1). @aws-sdk/client-s3 is looked up from this repo and, failing that,
// from AWS_SDK_DIR (a folder whose node_modules has it, e.g. a scratch `npm install` outside the repo).
// Exits non-zero when a required check fails; the conditional-put check is reported, not required.
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { randomBytes, createHash } from 'node:crypto';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

async function load(name) {
  const bases = [process.cwd(), ...(process.env.AWS_SDK_DIR ? [process.env.AWS_SDK_DIR] : [])];
  for (const base of bases) {
    try {
      const resolved = createRequire(path.join(path.resolve(base), 'package.json')).resolve(name);
      return await import(pathToFileURL(resolved).href);
    } catch {
      // try the next base
    }
  }
  return undefined;
}

const s3mod = await load('@aws-sdk/client-s3');
if (!s3mod) {
  console.error('s3-smoke: @aws-sdk/client-s3 not found (install it in a scratch folder and set AWS_SDK_DIR)');
  process.exit(2);
}
const {
  S3Client,
  CreateBucketCommand,
  PutObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  HeadObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
  CompleteMultipartUploadCommand,
} = s3mod;

const endpoint = process.argv[2] ?? process.env.S3_ENDPOINT;
if (!endpoint) {
  console.error('usage: s3-smoke.mjs <endpoint>  (or set S3_ENDPOINT)');
  process.exit(2);
}
const s3 = new S3Client({
  endpoint,
  region: process.env.S3_REGION ?? 'us-east-1',
  forcePathStyle: true,
  credentials: {
    accessKeyId: process.env.S3_ACCESS_KEY_ID ?? 'test',
    secretAccessKey: process.env.S3_SECRET_ACCESS_KEY ?? 'test',
  },
});

let failed = 0;
const results = [];
async function check(name, fn, { required = true } = {}) {
  const t0 = Date.now();
  try {
    const note = await fn();
    results.push(`ok   ${name}${note ? ` (${note})` : ''} ${Date.now() - t0}ms`);
  } catch (err) {
    const e = /** @type {any} */ (err);
    const status = e?.$metadata?.httpStatusCode;
    results.push(
      `${required ? 'FAIL' : 'no  '} ${name}: ${e?.name ?? ''} ${status ?? ''} ${e?.message ?? String(err)}`,
    );
    if (required) failed++;
  }
}
const sha = (b) => createHash('sha256').update(b).digest('hex');
function chunked(buf, size = 1000) {
  // a stream of unknown length, delivered in pieces
  return Readable.from(
    (function* () {
      for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
    })(),
  );
}
async function getBytes(Bucket, Key) {
  const out = await s3.send(new GetObjectCommand({ Bucket, Key }));
  return Buffer.from(await out.Body.transformToByteArray());
}

const bucket = `smoke-${Date.now().toString(36)}`;
const data = randomBytes(12_000);

await check('CreateBucket (path-style)', async () => {
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
});

await check('PutObject 12,000-byte stream with ContentLength (aws-chunked + trailing CRC32)', async () => {
  await s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: 'stream-known.bin', Body: chunked(data), ContentLength: data.length }),
  );
  const got = await getBytes(bucket, 'stream-known.bin');
  if (got.length !== data.length || sha(got) !== sha(data))
    throw new Error(`GetObject gave ${got.length} bytes, sha match ${sha(got) === sha(data)}`);
  return `GetObject returned ${got.length} identical bytes`;
});

// PutObject cannot send a stream of unknown length (the SDK throws before sending: it needs the
// length for x-amz-decoded-content-length); @aws-sdk/lib-storage's Upload is the SDK's way to do it.
const storage = await load('@aws-sdk/lib-storage');
for (const [label, bytes] of [
  ['12,000-byte', data],
  ['6 MiB (multipart)', randomBytes(6 * 1024 * 1024)],
]) {
  await check(
    `lib-storage Upload of a ${label} stream of unknown length`,
    async () => {
      if (!storage) return 'skipped: @aws-sdk/lib-storage not found';
      const key = `upload-${bytes.length}.bin`;
      await new storage.Upload({
        client: s3,
        params: { Bucket: bucket, Key: key, Body: chunked(bytes, 1024 * 1024) },
      }).done();
      const got = await getBytes(bucket, key);
      if (sha(got) !== sha(bytes)) throw new Error(`GetObject gave ${got.length} bytes, differing`);
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      return `GetObject returned ${got.length} identical bytes`;
    },
    { required: false },
  );
}

await check('PutObject Buffer + HeadObject', async () => {
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: 'dir/a.json',
      Body: Buffer.from('{"a":1}'),
      ContentType: 'application/json',
    }),
  );
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'dir/a.json' }));
  if (head.ContentLength !== 7 || head.ContentType !== 'application/json')
    throw new Error(`head ${head.ContentLength} ${head.ContentType}`);
});

await check('ListObjectsV2 (prefix + delimiter)', async () => {
  const all = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  const keys = (all.Contents ?? []).map((o) => o.Key).sort();
  const byDir = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Delimiter: '/' }));
  const prefixes = (byDir.CommonPrefixes ?? []).map((p) => p.Prefix);
  if (!keys.includes('stream-known.bin') || !keys.includes('dir/a.json') || !prefixes.includes('dir/')) {
    throw new Error(`keys ${keys} prefixes ${prefixes}`);
  }
  return `${keys.length} keys, prefixes ${prefixes.join(',')}`;
});

await check('CopyObject', async () => {
  await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copy.bin', CopySource: `${bucket}/stream-known.bin` }));
  const got = await getBytes(bucket, 'copy.bin');
  if (sha(got) !== sha(data)) throw new Error('copy differs');
});

await check(
  'multipart upload (2 parts: 5 MiB + 12,000 bytes)',
  async () => {
    const p1 = randomBytes(5 * 1024 * 1024);
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mp.bin' }));
    const e1 = await s3.send(
      new UploadPartCommand({ Bucket: bucket, Key: 'mp.bin', UploadId, PartNumber: 1, Body: p1 }),
    );
    const e2 = await s3.send(
      new UploadPartCommand({ Bucket: bucket, Key: 'mp.bin', UploadId, PartNumber: 2, Body: data }),
    );
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: 'mp.bin',
        UploadId,
        MultipartUpload: {
          Parts: [
            { PartNumber: 1, ETag: e1.ETag, ChecksumCRC32: e1.ChecksumCRC32 },
            { PartNumber: 2, ETag: e2.ETag, ChecksumCRC32: e2.ChecksumCRC32 },
          ],
        },
      }),
    );
    const got = await getBytes(bucket, 'mp.bin');
    if (sha(got) !== sha(Buffer.concat([p1, data]))) throw new Error(`multipart result differs (${got.length} bytes)`);
  },
  { required: false },
);

let firstCond = false;
await check('conditional PutObject IfNoneMatch "*" on a new key succeeds', async () => {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'once.txt', Body: 'first', IfNoneMatch: '*' }));
  firstCond = true;
});
await check(
  'conditional PutObject IfNoneMatch "*" on an existing key fails with 412',
  async () => {
    if (!firstCond) throw new Error('first conditional put failed');
    try {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'once.txt', Body: 'second', IfNoneMatch: '*' }));
    } catch (err) {
      const status = /** @type {any} */ (err)?.$metadata?.httpStatusCode;
      if (status === 412) return `412 ${/** @type {any} */ (err).name}`;
      throw err;
    }
    const got = (await getBytes(bucket, 'once.txt')).toString();
    throw new Error(`second put was accepted (object now "${got}")`);
  },
  { required: false },
);

await check('DeleteObject + DeleteObjects', async () => {
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'copy.bin' }));
  const keys = ['stream-known.bin', 'dir/a.json', 'mp.bin', 'once.txt'];
  await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.map((Key) => ({ Key })) } }));
  const left = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  if ((left.KeyCount ?? 0) !== 0) throw new Error(`${left.KeyCount} keys left`);
});

await check(
  'a wrong secret key is refused',
  async () => {
    const bad = new S3Client({
      endpoint,
      region: process.env.S3_REGION ?? 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: process.env.S3_ACCESS_KEY_ID ?? 'test', secretAccessKey: 'not-the-secret' },
    });
    try {
      await bad.send(new ListObjectsV2Command({ Bucket: bucket }));
    } catch (err) {
      const status = /** @type {any} */ (err)?.$metadata?.httpStatusCode;
      if (status === 403) return `403 ${/** @type {any} */ (err).name}`;
      throw err;
    } finally {
      bad.destroy();
    }
    throw new Error('accepted: this server does not check signatures');
  },
  { required: false },
);

for (const r of results) console.log(r);
s3.destroy();
process.exit(failed ? 1 : 0);
