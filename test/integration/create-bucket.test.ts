/**
 * deploy/create-bucket.mjs, docker-compose's `s3-bucket` job, run as a process against the real
 * S3-compatible test server: compose cannot run here (no Docker engine), so what the job does is
 * tested this way. Needs `npm run build` first (it imports the built shared package).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers.js';

interface Run {
  code: number;
  records: { level: number; msg: string; [k: string]: unknown }[];
}

function createBucket(env: Record<string, string>): Promise<Run> {
  // Not the runner's environment: only what the job is given (and not the switch that silences the AWS SDK's warning).
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(S3_|AWS_|VITEST|BN_)/.test(k)));
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(ROOT, 'deploy', 'create-bucket.mjs')],
      { env: { ...base, ...env }, timeout: 120_000 },
      (error, stdout, stderr) => {
        const lines = `${stdout}${stderr}`.split('\n').filter((l) => l !== '');
        const records = lines.map((l) => {
          try {
            return JSON.parse(l) as Run['records'][number];
          } catch {
            throw new Error(`create-bucket.mjs wrote a line that is not JSON: ${l}`);
          }
        });
        resolve({ code: error ? Number((error as { code?: unknown }).code ?? 1) : 0, records });
      },
    );
  });
}

const bucket = `bn-mk-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
let dir: string;
let env: Record<string, string>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bn-create-bucket-'));
  // The credentials as compose gives them: Docker secret files.
  await writeFile(join(dir, 'id'), `${process.env.S3_ACCESS_KEY_ID}\n`);
  await writeFile(join(dir, 'secret'), `${process.env.S3_SECRET_ACCESS_KEY}\n`);
  env = {
    S3_ENDPOINT: process.env.S3_ENDPOINT!,
    S3_REGION: process.env.S3_REGION ?? 'us-east-1',
    S3_FORCE_PATH_STYLE: 'true',
    S3_BUCKET: bucket,
    S3_ACCESS_KEY_ID_FILE: join(dir, 'id'),
    S3_SECRET_ACCESS_KEY_FILE: join(dir, 'secret'),
  };
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("deploy/create-bucket.mjs (the compose stack's s3-bucket job)", () => {
  it('creates the bucket, then finds it there on the next run: exit 0 both times, JSON lines only', async () => {
    const first = await createBucket(env);
    expect(first.code).toBe(0);
    expect(first.records.find((r) => r.level === 30)).toMatchObject({ msg: 'bucket created', bucket });
    const second = await createBucket(env);
    expect(second.code).toBe(0);
    expect(second.records.find((r) => r.level === 30)).toMatchObject({
      msg: 'bucket already exists: left as it is',
      bucket,
    });
    // Node < 22: the AWS SDK's warning comes as one JSON record, not as text.
    for (const r of [first, second])
      expect(r.records.filter((x) => x.msg === 'process warning').length).toBeLessThanOrEqual(1);
  });

  it('fails with exit 1, saying access was denied, when the secret is wrong', async () => {
    await writeFile(join(dir, 'wrong'), 'not-the-secret\n');
    const r = await createBucket({ ...env, S3_SECRET_ACCESS_KEY_FILE: join(dir, 'wrong') });
    expect(r.code).toBe(1);
    expect(r.records.at(-1)).toMatchObject({
      level: 50,
      msg: `cannot check bucket ${bucket} on ${env.S3_ENDPOINT}: HTTP 403, access denied: wrong credentials, or a bucket of another account; check S3_ENDPOINT and the credentials`,
    });
  });

  it('refuses a bad setting with exit 78, naming it, before any request', async () => {
    const noBucket = await createBucket({ ...env, S3_BUCKET: '' });
    expect(noBucket).toEqual({
      code: 78,
      records: [
        expect.objectContaining({
          level: 60,
          code: 'BN_ERR_CONFIG_INVALID',
          msg: 'configuration: S3_BUCKET is required: the bucket to create',
        }),
      ],
    });
    const empty = join(dir, 'empty');
    await writeFile(empty, '\n');
    const emptySecret = await createBucket({ ...env, S3_SECRET_ACCESS_KEY_FILE: empty });
    expect(emptySecret.code).toBe(78);
    expect(emptySecret.records.at(-1)!.msg).toBe(
      `configuration: S3_SECRET_ACCESS_KEY_FILE names ${empty}, which is empty: write the secret into it`,
    );
  });
});
