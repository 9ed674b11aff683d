import { describe, expect, it } from 'vitest';
import { deadLetterOf, pendingRunAlertOf, refusedOf, unrecognisedOf } from './records.js';

describe('records', () => {
  it('refusedOf: the alerter record under the month it names; an invalid month is unknown; other shapes are ignored', () => {
    const r = {
      kind: 'refused-event',
      reason: 'bad-signature',
      why: 'the event signature (key id 1234abcd) was not made by any key',
      claimed: { id: 'e1', type: 'file-arrived', runId: 'r1', partition: '2026-03' },
    };
    expect(refusedOf('refused/2026-03/a.json', new Date('2026-12-06T03:00:00Z'), r)).toEqual({
      kind: 'bad-signature',
      partition: '2026-03',
      eventId: 'e1',
      eventType: 'file-arrived',
      runId: 'r1',
      why: 'the event signature (key id 1234abcd) was not made by any key',
      recordedAt: '2026-12-06T03:00:00.000Z',
      key: 'refused/2026-03/a.json',
    });
    expect(refusedOf('k', new Date(0), { ...r, claimed: { partition: '2026-13' } })?.partition).toBe('unknown');
    expect(refusedOf('k', new Date(0), { ...r, kind: 'bus-dead-letter' })).toBeNull();
    expect(refusedOf('k', new Date(0), { ...r, reason: 'other' })).toBeNull();
    expect(refusedOf('k', new Date(0), null)).toBeNull();
  });

  it('unrecognisedOf: key, size, when, why; its alert state when there is one', () => {
    const u = { key: 'incomming/2029-02/x.xlsx', bytes: 12, modified: 'm', seenAt: 's', why: 'w' };
    expect(unrecognisedOf(u)).toEqual({ ...u, alert: null });
    expect(unrecognisedOf({ ...u, alert: { status: 'sent', attempts: 1 } })?.alert).toEqual({
      status: 'sent',
      attempts: 1,
    });
    expect(unrecognisedOf({ key: 'k' })).toBeNull();
  });

  it('deadLetterOf and pendingRunAlertOf take only what they know', () => {
    expect(deadLetterOf('dead-letter/2026-03/r1.json', { runId: 'r1', code: 'C', message: 'm' })).toEqual({
      runId: 'r1',
      info: { key: 'dead-letter/2026-03/r1.json', code: 'C', message: 'm' },
    });
    expect(deadLetterOf('k', { kind: 'bus-dead-letter' })).toBeNull();
    expect(pendingRunAlertOf({ id: 'run-r1', attempts: 2, state: 'sending' })).toEqual({
      runId: 'r1',
      alert: { status: 'sending', attempts: 2 },
    });
    expect(pendingRunAlertOf({ id: 'refused-unsigned-20261206T03', attempts: 0, state: 'pending' })).toBeNull();
  });
});
