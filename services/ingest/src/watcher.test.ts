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
