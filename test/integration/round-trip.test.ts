/**
 * The reference month through the production adapters: dropped into S3 (S3Proxy) with S3Store,
 * run by the six stages with the bucket as their store, published with the manifest last, and a
 * failed month alerted through SendGridMailer (the real SDK) to the local stand-in.
 *
 * The stages and adapters are imported from the built packages, as the services import them, so
 * this file needs `npm run build` first (`npm test` builds before it runs the integration tests).
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  INPUT_NAMES,
  layout,
  makeEvent,
  type ObjectStore,
  type PipelineEvent,
  type SendGridPayload,
} from '@bottleneck/shared';
import { MemoryBus } from '@bottleneck/shared/adapters/memory-bus';
import { S3Store } from '@bottleneck/shared/adapters/s3-store';
import { SendGridMailer } from '@bottleneck/shared/adapters/sendgrid-mailer';
import { createContext, subscribeStages } from '@bottleneck/shared/wiring';
import { STAGE_HANDLERS } from '@bottleneck/cli/embedded';
import type { Manifest } from '@bottleneck/publisher';
import { readCurrent, readPublished } from '@bottleneck/shared/published';
import { NO_REFERENCE, REFERENCE } from '../helpers.js';
import { STANDIN_API_KEY, start, type StandIn } from '../sendgrid-standin.js';

if (!REFERENCE) console.warn(`${NO_REFERENCE} (test/integration/round-trip.test.ts)`);

const s3 = {
  endpoint: process.env.S3_ENDPOINT ?? '',
  region: process.env.S3_REGION ?? 'us-east-1',
  forcePathStyle: true,
  credentials: {
    accessKeyId: process.env.S3_ACCESS_KEY_ID ?? 'test',
    secretAccessKey: process.env.S3_SECRET_ACCESS_KEY ?? 'test',
  },
};
const bucket = `bn-it-trip-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** The store, recording the key of every completed write in order. */
function recording(store: ObjectStore, writes: string[]): ObjectStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      if (prop === 'put' || prop === 'putFile' || prop === 'putStream') {
        return async (key: string, ...rest: unknown[]) => {
          const r: unknown = await (v as (...a: unknown[]) => Promise<unknown>).call(target, key, ...rest);
          writes.push(key);
          return r;
        };
      }
      return (v as (...a: unknown[]) => unknown).bind(target);
    },
  });
}

/** The six stages on the in-memory bus, with the given store and mailer (what a service's main wires, in one process). */
async function runMonth(store: ObjectStore, mailer: SendGridMailer, partition: string): Promise<PipelineEvent[]> {
  const runId = `${partition}-it-${randomBytes(3).toString('hex')}`;
  const bus = new MemoryBus();
  const { ctx, close } = await createContext(
    { bus, store, mailer },
    {
      alert: {
        to: ['data-team@bottleneck.example'],
        from: 'pipeline@bottleneck.example',
        pipelineName: 'BottleNeck pipeline',
      },
    },
  );
  try {
    await subscribeStages(bus, STAGE_HANDLERS, ctx);
    await bus.publish(
      makeEvent('trigger', { runId, partition, materializations: {}, checks: [], payload: { source: 'cli' } }),
    );
    await bus.idle();
    return bus
      .messages()
      .map((m) => m.event)
      .filter((e) => e.runId === runId);
  } finally {
    await bus.close();
    await close();
  }
}

describe.skipIf(!REFERENCE)('round trip: the reference month on S3, alerts through SendGrid', () => {
  const admin = new S3Client({ ...s3, maxAttempts: 1 });
  let store: S3Store;
  let sg: StandIn;
  let mailer: SendGridMailer;

  beforeAll(async () => {
    if (!s3.endpoint)
      throw new Error(
        'S3_ENDPOINT is not set: run through test/integration/vitest.config.ts (its global setup starts S3Proxy)',
      );
    await admin.send(new CreateBucketCommand({ Bucket: bucket }));
    store = new S3Store({ bucket, ...s3 });
    sg = await start();
    mailer = new SendGridMailer({ apiKey: STANDIN_API_KEY, baseUrl: sg.url, initialDelayMs: 10 });
  });

  afterAll(async () => {
    store?.close();
    await sg?.close();
    let token: string | undefined;
    do {
      const page = await admin.send(
        new ListObjectsV2Command({ Bucket: bucket, ...(token ? { ContinuationToken: token } : {}) }),
      );
      for (const o of page.Contents ?? []) await admin.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.Key! }));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    await admin.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => undefined);
    admin.destroy();
  });

  it('uploads the month to incoming/2026-11/ and reads every file back byte for byte', async () => {
    for (const name of INPUT_NAMES) {
      const local = await readFile(join(REFERENCE!, `${name}.xlsx`));
      const key = layout.incoming('2026-11', name);
      expect(await store.putFile(key, join(REFERENCE!, `${name}.xlsx`))).toEqual({
        key,
        bytes: local.length,
        sha256: sha256(local),
      });
      expect((await store.get(key)).equals(local)).toBe(true);
      const copy = await store.getToFile(key);
      try {
        expect((await readFile(copy.path)).equals(local)).toBe(true);
      } finally {
        await copy.release();
      }
    }
    expect((await store.list(layout.incomingPrefix('2026-11'))).map((o) => o.key)).toEqual([
      'incoming/2026-11/erp.xlsx',
      'incoming/2026-11/liaison.xlsx',
      'incoming/2026-11/web.xlsx',
    ]);
  });

  it("runs the month with the bucket as the store; the publisher writes the run's files, its manifest, then the pointer, last", async () => {
    const writes: string[] = [];
    const events = await runMonth(recording(store, writes), mailer, '2026-11');
    expect(events.map((e) => e.type)).toEqual([
      'trigger',
      'file-arrived',
      'cleaned',
      'validated',
      'merged',
      'analysed',
      'published',
    ]);
    const runId = events[0]!.runId;

    const published = writes.filter((k) => k.startsWith(layout.extractsPrefix('2026-11')));
    expect(published.at(-1)).toBe(layout.current('2026-11'));
    expect(published.at(-2)).toBe(layout.manifest('2026-11', runId));
    expect(published.slice(0, -2).every((k) => k.startsWith(layout.extracts('2026-11', runId, '')))).toBe(true);

    const pointer = await readCurrent(store, '2026-11');
    expect(pointer).toMatchObject({ runId, manifestKey: layout.manifest('2026-11', runId) });
    const manifest = JSON.parse((await store.get(pointer!.manifestKey)).toString('utf8')) as Manifest;
    expect(manifest.partition).toBe('2026-11');
    expect(manifest.files.map((f) => f.name).sort()).toEqual([
      'merged_with_revenue.csv',
      'ordinary_wines.csv',
      'premium_wines.csv',
      'revenue_per_product.xlsx',
    ]);
    // Every file the manifest names is in the bucket with the size and hash it records, and nothing else is published.
    for (const f of manifest.files) {
      const body = await store.get(f.key);
      expect({ key: f.key, bytes: body.length, sha256: sha256(body) }).toEqual({
        key: f.key,
        bytes: f.bytes,
        sha256: f.sha256,
      });
    }
    expect((await store.list(layout.extractsPrefix('2026-11'))).map((o) => o.key)).toEqual(
      [layout.current('2026-11'), ...manifest.files.map((f) => f.key), layout.manifest('2026-11', runId)].sort(),
    );
    // The analysts' figures, as in the acceptance test, read as a reader would: through the pointer.
    const premium = (await readPublished(store, '2026-11', 'premium_wines.csv')).toString('utf8').trim().split('\n');
    expect(premium.length - 1).toBe(30);
    expect(sg.received()).toEqual([]);
  });

  it('documents If-None-Match: a first-writer-wins writer is refused over an existing object', async () => {
    // The pointer is written unconditionally by the publisher, under the month's publish lock. A
    // writer that must not replace an existing object (a claim) writes with ifNoneMatch and gets a conflict.
    const before = await store.get(layout.current('2026-11'));
    await expect(
      store.put(layout.current('2026-11'), '{"runId":"intruder"}\n', { ifNoneMatch: true }),
    ).rejects.toMatchObject({
      code: 'BN_ERR_STORE_IO',
      message: 'object extracts/2026-11/_current.json already exists (conditional write refused)',
      retriable: false,
      details: { conflict: true },
    });
    expect((await store.get(layout.current('2026-11'))).equals(before)).toBe(true);
  });

  it('a month with a missing file: the dead-letter record lands in the bucket and one alert reaches SendGrid', async () => {
    for (const name of ['erp', 'web'] as const)
      await store.putFile(layout.incoming('2026-12', name), join(REFERENCE!, `${name}.xlsx`));
    sg.failNext(429, 1); // one rate-limit answer first: the mailer retries it
    const events = await runMonth(store, mailer, '2026-12');
    expect(events.map((e) => e.type)).toEqual(['trigger', 'failed']);
    const failed = events[1]!;

    const record = JSON.parse((await store.get(layout.deadLetter('2026-12', failed.runId))).toString('utf8')) as {
      code: string;
      stage: string;
      message: string;
      alert: { status: string; id?: string };
    };
    expect(record).toMatchObject({
      code: 'BN_ERR_INPUT_MISSING',
      stage: 'ingest',
      message: `liaison.xlsx is missing: expected at s3://${bucket}/incoming/2026-12/liaison.xlsx (the month needs erp.xlsx, web.xlsx and liaison.xlsx)`,
      alert: { status: 'sent' },
    });
    expect(record.alert.id).toMatch(/^[A-Za-z0-9_-]{15}$/);

    const got: SendGridPayload[] = sg.received();
    expect(sg.attempts()).toBe(2);
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({
      personalizations: [{ to: [{ email: 'data-team@bottleneck.example' }] }],
      from: { email: 'pipeline@bottleneck.example' },
      subject: '[BottleNeck pipeline] run failed at stage ingest for 2026-12',
      custom_args: { runId: failed.runId, partition: '2026-12', stage: 'ingest' },
    });
    expect(got[0]!.content[0]!.value).toContain(
      `Dead-letter record: s3://${bucket}/dead-letter/2026-12/${failed.runId}.json`,
    );
    expect(JSON.stringify(got)).not.toContain(STANDIN_API_KEY);
    expect(await store.list('extracts/2026-12/')).toEqual([]);
  });
});
