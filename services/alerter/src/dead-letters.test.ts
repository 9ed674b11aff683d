import { describe, expect, it } from 'vitest';
import { busDeadLetter } from './dead-letters.js';

const headers = {
  'dlq-source-topic': Buffer.from('bottleneck.merged'), 'dlq-source-partition': Buffer.from('2'), 'dlq-source-offset': Buffer.from('41'),
  'dlq-group': Buffer.from('bottleneck-analytics'), 'dlq-error-class': Buffer.from('BottleneckError'), 'dlq-error-code': Buffer.from('BN_ERR_EVENT_INVALID'),
  'dlq-error-message': Buffer.from('message is not JSON: password=hunter2'), 'dlq-attempts': Buffer.from('0'),
};

describe('a bus dead-letter record', () => {
  it('is keyed by where the message came from, so a redelivery lands on the same key', () => {
    const a = busDeadLetter(headers, 'not json', new Date('2026-11-26T10:00:00Z'));
    const b = busDeadLetter(headers, 'not json', new Date('2026-11-26T11:00:00Z'));
    expect(a.key).toBe('dead-letter/unknown/bus-bottleneck.merged-2-41.json');
    expect(b.key).toBe(a.key);
    expect(a.record).toMatchObject({ sourceTopic: 'bottleneck.merged', sourcePartition: 2, sourceOffset: 41, group: 'bottleneck-analytics', errorCode: 'BN_ERR_EVENT_INVALID', attempts: 0, value: 'not json' });
  });

  it('files a message of a known month under that month, and redacts secrets', () => {
    const { key, record } = busDeadLetter(headers, JSON.stringify({ runId: 'r1', partition: '2026-11', token: 'abc123' }), new Date());
    expect(key).toBe('dead-letter/2026-11/bus-bottleneck.merged-2-41.json');
    expect(record.runId).toBe('r1');
    expect(record.message).not.toContain('hunter2');
    expect(record.value).not.toContain('abc123');
  });
});
