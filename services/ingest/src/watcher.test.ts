import { describe, expect, it } from 'vitest';
import { keysOfNotification } from './watcher.js';

describe('S3 event notifications', () => {
  it('reads the object keys of an AWS/MinIO Records[] notification, URL-decoded', () => {
    const n = JSON.stringify({
      EventName: 's3:ObjectCreated:Put',
      Key: 'bottleneck/incoming/2026-11/erp.xlsx',
      Records: [
        { eventName: 's3:ObjectCreated:Put', s3: { bucket: { name: 'bottleneck' }, object: { key: 'incoming/2026-11/erp.xlsx', size: 33372, eTag: 'abc' } } },
        { eventName: 's3:ObjectCreated:CompleteMultipartUpload', s3: { object: { key: 'incoming/2026-11/my+file%C3%A9.xlsx' } } },
        { eventName: 's3:ObjectRemoved:Delete', s3: { object: { key: 'incoming/2026-11/web.xlsx' } } },
      ],
    });
    expect(keysOfNotification(n)).toEqual(['incoming/2026-11/erp.xlsx', 'incoming/2026-11/my fileé.xlsx']);
  });

  it('ignores what is not a notification', () => {
    expect(keysOfNotification('not json')).toEqual([]);
    expect(keysOfNotification('{"Records": "x"}')).toEqual([]);
    expect(keysOfNotification('{"Records": [{"s3": {}}]}')).toEqual([]);
  });
});
