import { describe, expect, it } from 'vitest';
import { keysOfNotification } from './watcher.js';

describe('S3 event notifications', () => {
  it('reads the object keys of an AWS/versitygw Records[] notification, URL-decoded', () => {
    const n = JSON.stringify({
      EventName: 's3:ObjectCreated:Put',
      Key: 'bottleneck/incoming/2026-11/erp.xlsx',
      Records: [
        {
          eventName: 's3:ObjectCreated:Put',
          s3: {
            bucket: { name: 'bottleneck' },
            object: { key: 'incoming/2026-11/erp.xlsx', size: 33372, eTag: 'abc' },
          },
        },
        {
          eventName: 's3:ObjectCreated:CompleteMultipartUpload',
          s3: { object: { key: 'incoming/2026-11/my+file%C3%A9.xlsx' } },
        },
        { eventName: 's3:ObjectRemoved:Delete', s3: { object: { key: 'incoming/2026-11/web.xlsx' } } },
      ],
    });
    expect(keysOfNotification(n)).toEqual(['incoming/2026-11/erp.xlsx', 'incoming/2026-11/my fileé.xlsx']);
  });

  it("reads versitygw's notification (docker-compose's S3 gateway), and ignores the test event it sends at start", () => {
    // The shape versitygw v1.8 writes to Kafka (s3event/event.go), for a PutObject in path style.
    const put = JSON.stringify({
      Records: [
        {
          eventVersion: '2.2',
          eventSource: 'aws:s3',
          awsRegion: 'us-east-1',
          eventTime: '2026-11-30T09:00:00Z',
          eventName: 's3:ObjectCreated:Put',
          userIdentity: { PrincipalId: 'bottleneck' },
          requestParameters: { sourceIPAddress: '172.18.0.9' },
          responseElements: { 'x-amz-request-id': '', 'x-amz-id-2': '' },
          s3: {
            s3SchemaVersion: '1.0',
            configurationId: 'kafka-global',
            bucket: {
              name: 'bottleneck',
              ownerIdentity: { PrincipalId: 'bottleneck' },
              arn: 'arn:aws:s3:::/bottleneck/incoming/2026-11/web.xlsx',
            },
            object: { key: 'incoming/2026-11/web.xlsx', size: 41562, eTag: '"0f3c"', versionId: null, sequencer: '1A' },
          },
          glacierEventData: {
            restoreEventData: { lifecycleRestorationExpiryTime: '', lifecycleRestoreStorageClass: '' },
          },
        },
      ],
    });
    expect(keysOfNotification(put)).toEqual(['incoming/2026-11/web.xlsx']);
    expect(
      keysOfNotification(
        JSON.stringify({ Service: 'S3', Event: 's3:TestEvent', Time: '2026-11-30T09:00:00Z', Bucket: 'Test-Bucket' }),
      ),
    ).toEqual([]);
  });

  it('ignores what is not a notification', () => {
    expect(keysOfNotification('not json')).toEqual([]);
    expect(keysOfNotification('{"Records": "x"}')).toEqual([]);
    expect(keysOfNotification('{"Records": [{"s3": {}}]}')).toEqual([]);
  });
});

describe('the watcher on the sensors page', () => {
  it('records its last poll, its cursor and what each object became: a run, waiting, unrecognised', async () => {
    const { mkdtemp, mkdir, writeFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { FolderStore } = await import('@bottleneck/shared/adapters/folder-store');
    const { MemoryBus } = await import('@bottleneck/shared/adapters/memory-bus');
    const { silentLogger } = await import('@bottleneck/shared/stage/context');
    const { readSensors } = await import('@bottleneck/shared/catalog/sensors');
    const { startWatcher } = await import('./watcher.js');
    const dir = await mkdtemp(join(tmpdir(), 'bn-watcher-sensors-'));
    try {
      for (const [p, names] of [
        ['2026-10', ['erp', 'web', 'liaison']],
        ['2026-11', ['erp']],
      ] as const) {
        await mkdir(join(dir, 'incoming', p), { recursive: true });
        for (const n of names) await writeFile(join(dir, 'incoming', p, `${n}.xlsx`), `${p} ${n}`);
      }
      await writeFile(join(dir, 'incoming', 'erp.xlsx'), 'no month');
      const store = new FolderStore(dir);
      const bus = new MemoryBus();
      const w = await startWatcher({
        store,
        bus,
        log: silentLogger,
        metrics: { unrecognised: { inc: () => undefined } },
        env: { KAFKA_BROKERS: '127.0.0.1:1', S3_BUCKET: 'unused', BN_SETTLE_MS: '0', BN_POLL_INTERVAL_MS: '60000' },
      } as never);
      await expect.poll(async () => (await readSensors(store)).watchers.length, { timeout: 30_000 }).toBe(1);
      await w.stop();
      const [state] = (await readSensors(store)).watchers;
      const runId = bus.messages().find((m) => m.event.type === 'trigger')?.event.runId;
      expect(runId).toMatch(/^2026-10-/);
      expect(state).toMatchObject({ where: 'ingest', polls: 1, objectsSeen: 5 });
      expect(Object.keys(state!.cursor).sort()).toEqual(['2026-10', '2026-11']);
      expect(Object.fromEntries(state!.objects.map((o) => [o.key, [o.became, o.runId]]))).toEqual({
        'incoming/2026-10/erp.xlsx': ['run', runId],
        'incoming/2026-10/web.xlsx': ['run', runId],
        'incoming/2026-10/liaison.xlsx': ['run', runId],
        'incoming/2026-11/erp.xlsx': ['waiting', undefined],
        'incoming/erp.xlsx': ['unrecognised', undefined],
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
