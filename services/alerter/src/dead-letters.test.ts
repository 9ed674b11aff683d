import { describe, expect, it } from 'vitest';
import type { DeadLetterMessage } from '@bottleneck/shared/ports/bus';
import { busDeadLetter } from './dead-letters.js';

const dl = (value: string): DeadLetterMessage => ({
  sourceTopic: 'bottleneck.merged',
  sourcePartition: 2,
  sourceOffset: '41',
  group: 'bottleneck-analytics',
  errorClass: 'BottleneckError',
  errorCode: 'BN_ERR_EVENT_INVALID',
  errorMessage: 'message is not JSON: password=hunter2',
  attempts: 0,
  failedAt: null,
  value,
});

describe('a bus dead-letter record', () => {
  it('is keyed by where the message came from, so a redelivery lands on the same key', () => {
    const a = busDeadLetter(dl('not json'), new Date('2026-11-26T10:00:00Z'));
    const b = busDeadLetter(dl('not json'), new Date('2026-11-26T11:00:00Z'));
    expect(a.key).toBe('dead-letter/unknown/bus-bottleneck.merged-2-41.json');
    expect(b.key).toBe(a.key);
    expect(a.record).toMatchObject({
      sourceTopic: 'bottleneck.merged',
      sourcePartition: 2,
      sourceOffset: 41,
      group: 'bottleneck-analytics',
      errorCode: 'BN_ERR_EVENT_INVALID',
      attempts: 0,
      value: 'not json',
    });
  });

  it('files a message of a known month under that month, and redacts secrets', () => {
    const { key, record } = busDeadLetter(
      dl(JSON.stringify({ runId: 'r1', partition: '2026-11', token: 'abc123' })),
      new Date(),
    );
    expect(key).toBe('dead-letter/2026-11/bus-bottleneck.merged-2-41.json');
    expect(record.runId).toBe('r1');
    expect(record.message).not.toContain('hunter2');
    expect(record.value).not.toContain('abc123');
  });
});
