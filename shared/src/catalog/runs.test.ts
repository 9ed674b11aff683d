import { describe, expect, it } from 'vitest';
import { makeEvent, type PipelineEvent } from '../events/index.js';
import type { StageRecord } from '../runs/record.js';
import { assembleRuns, byRecordedDesc, verifiedRuns, type RecordedStage } from './runs.js';

const P = '2026-03';
function rec(
  runId: string,
  stage: string,
  consumed: PipelineEvent['type'],
  o: { status?: StageRecord['status']; parentRunId?: string; runStartedAt?: string; partition?: string } = {},
): StageRecord {
  const partition = o.partition ?? P;
  const event = makeEvent(consumed, {
    runId,
    partition,
    materializations: {},
    checks: [],
    ...(o.parentRunId ? { parentRunId: o.parentRunId } : {}),
    payload: consumed === 'trigger' ? { source: 'upload' } : {},
  } as never);
  return {
    runId,
    partition,
    stage,
    status: o.status ?? 'succeeded',
    runStartedAt: o.runStartedAt ?? '2026-03-01T00:00:00.000Z',
    consumed: { id: event.id, type: consumed, ts: event.ts, ...(o.parentRunId ? { parentRunId: o.parentRunId } : {}) },
    event,
    startedAt: '2026-03-01T00:00:00.000Z',
    endedAt: '2026-03-01T00:00:01.000Z',
    emitted: [],
    materializations: {},
    checks: [],
    ...(o.status === 'failed' ? { error: { code: 'BN_ERR_INPUT_BAD_VALUE', message: 'row 7', retriable: false } } : {}),
    codeVersion: 'v1',
  };
}
const at = (r: StageRecord, iso: string): RecordedStage => ({ record: r, modified: new Date(iso) });
const none = new Map();

describe('verifiedRuns', () => {
  it('a run some stage started from a trigger is verified; its re-execution of the same month too, chained; nothing else', () => {
    const byRun = new Map<string, StageRecord[]>([
      ['a', [rec('a', 'ingest', 'trigger')]],
      ['b', [rec('b', 'clean', 'cleaned', { parentRunId: 'a' })]],
      ['c', [rec('c', 'merge', 'validated', { parentRunId: 'b' })]],
      ['forged', [rec('forged', 'clean', 'cleaned')]],
      ['orphan', [rec('orphan', 'clean', 'cleaned', { parentRunId: 'nope' })]],
      ['other-month', [rec('other-month', 'clean', 'cleaned', { parentRunId: 'a', partition: '2026-04' })]],
    ]);
    expect([...verifiedRuns(byRun)].sort()).toEqual(['a', 'b', 'c']);
  });
});

describe('assembleRuns', () => {
  it('orders runs by when the store recorded them, never by the time an event claims', () => {
    const old = rec('r-old', 'ingest', 'trigger', { runStartedAt: '2099-01-01T00:00:00.000Z' });
    const neu = rec('r-new', 'ingest', 'trigger', { runStartedAt: '2020-01-01T00:00:00.000Z' });
    const { runs } = assembleRuns([at(old, '2026-12-06T01:00:00Z'), at(neu, '2026-12-06T02:00:00Z')], none, none, none);
    expect(runs.map((r) => [r.runId, r.recordedAt])).toEqual([
      ['r-new', '2026-12-06T02:00:00.000Z'],
      ['r-old', '2026-12-06T01:00:00.000Z'],
    ]);
  });

  it("a run's recorded time is its earliest record's", () => {
    const { runs } = assembleRuns(
      [
        at(rec('r', 'clean', 'cleaned'), '2026-12-06T02:00:00Z'),
        at(rec('r', 'ingest', 'trigger'), '2026-12-06T01:00:00Z'),
      ],
      none,
      none,
      none,
    );
    expect(runs[0]?.recordedAt).toBe('2026-12-06T01:00:00.000Z');
  });

  it('records of a run no stage started come back as a refused event under the month they name, not as a run', () => {
    const { runs, unverified } = assembleRuns(
      [at(rec('2026-03-20990101T000000-forged', 'clean', 'cleaned', { status: 'failed' }), '2026-12-06T03:00:00Z')],
      none,
      none,
      none,
    );
    expect(runs).toEqual([]);
    expect(unverified).toEqual([
      {
        kind: 'unverified-run',
        partition: P,
        eventId: expect.any(String) as string,
        eventType: 'cleaned',
        runId: '2026-03-20990101T000000-forged',
        why: 'no stage of the pipeline started run 2026-03-20990101T000000-forged: clean recorded it from a cleaned event, and no ingest record (trigger) or re-executed run of 2026-03 comes before it',
        recordedAt: '2026-12-06T03:00:00.000Z',
        key: 'runs/2026-03/2026-03-20990101T000000-forged/',
      },
    ]);
  });

  it('byRecordedDesc: equal times fall back to the run id, newest first', () => {
    const l = [
      { recordedAt: 'x', runId: 'a' },
      { recordedAt: 'x', runId: 'b' },
      { recordedAt: 'y', runId: 'a' },
    ].sort(byRecordedDesc);
    expect(l).toEqual([
      { recordedAt: 'y', runId: 'a' },
      { recordedAt: 'x', runId: 'b' },
      { recordedAt: 'x', runId: 'a' },
    ]);
  });
});
