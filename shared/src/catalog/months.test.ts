import { describe, expect, it } from 'vitest';
import type { ObjectInfo } from '../ports/object-store.js';
import { monthInfo } from './months.js';
import type { GraphSpec, RefusedEvent, RunDetail } from './types.js';

const P = '2026-03';
const graph: GraphSpec = { assets: [] };
const files: ObjectInfo[] = ['erp', 'web', 'liaison'].map((n) => ({
  key: `incoming/${P}/${n}.xlsx`,
  etag: `e-${n}`,
  bytes: 1,
  modified: new Date('2026-12-01T00:00:00Z'),
}));
function run(runId: string, status: RunDetail['status'], recordedAt: string): RunDetail {
  return {
    runId,
    partition: P,
    status,
    recordedAt,
    trigger: { source: 'upload', eventId: `${runId}.trigger` },
    startedAt: '2099-01-01T00:00:00.000Z',
    endedAt: null,
    durationMs: null,
    inputs: [],
    stages: [],
    materializations: {},
    checks: [],
    error:
      status === 'failed'
        ? { stage: 'clean', code: 'BN_ERR_INPUT_BAD_VALUE', message: 'row 7', words: 'clean failed: row 7' }
        : null,
    deadLetter: null,
    alert: null,
    published: null,
    children: [],
    codeVersion: null,
  };
}
const pointer = (runId: string) => ({
  partition: P,
  runId,
  manifestKey: `extracts/${P}/${runId}/manifest.json`,
  publishedAt: '2026-12-06T02:00:00.000Z',
  runStartedAt: '2026-12-06T01:59:00.000Z',
  files: [],
});
const refused: RefusedEvent = {
  kind: 'unsigned',
  partition: P,
  eventId: 'forged',
  eventType: 'file-arrived',
  runId: '2026-03-20990101T000000-x',
  why: 'the event carries no signature',
  recordedAt: '2026-12-06T03:00:00.000Z',
  key: 'refused/2026-03/bus-x-0-1.json',
};

describe('monthInfo', () => {
  it('a later published run clears failed, whatever times the failed run claims', () => {
    const failed = run('f', 'failed', '2026-12-06T01:00:00.000Z');
    const published = { ...run('p', 'published', '2026-12-06T02:00:00.000Z'), startedAt: '2020-01-01T00:00:00.000Z' };
    const m = monthInfo(P, [published, failed], files, pointer('p') as never, null, [], graph);
    expect(m.status).toBe('published');
    expect(m.latestRun?.runId).toBe('p');
  });

  it('a failed run recorded after the published one makes the month failed', () => {
    const published = run('p', 'published', '2026-12-06T01:00:00.000Z');
    const failed = run('f', 'failed', '2026-12-06T02:00:00.000Z');
    const m = monthInfo(P, [failed, published], files, pointer('p') as never, null, [], graph);
    expect([m.status, m.words]).toEqual(['failed', 'clean failed: row 7']);
  });

  it("lists the figures' run's failed checks across months in words, and no other check", () => {
    const check = (name: string, passed: boolean, metadata: Record<string, unknown>, message?: string) => ({
      asset: 'merged_with_revenue',
      check: name,
      passed,
      severity: 'WARN' as const,
      blocking: false,
      description: name,
      metadata,
      ...(message ? { message } : {}),
    });
    const published = {
      ...run('p', 'published', '2026-12-06T01:00:00.000Z'),
      checks: [
        check('total_revenue_vs_previous_month', false, { previousMonth: '2026-02' }, 'total revenue fell 50%'),
        check('product_count_vs_previous_month', true, { previousMonth: '2026-02' }),
        check('keys_look_alike', false, {}, 'a WARN of the month alone'),
      ],
    };
    const m = monthInfo(P, [published], files, pointer('p') as never, null, [], graph);
    expect(m.figures.monthOverMonth).toEqual([
      { check: 'total_revenue_vs_previous_month', previousMonth: '2026-02', message: 'total revenue fell 50%' },
    ]);
  });

  it('refused events are counted under the month and change neither its status nor its latest run', () => {
    const published = run('p', 'published', '2026-12-06T01:00:00.000Z');
    const m = monthInfo(P, [published], files, pointer('p') as never, null, [refused], graph);
    expect(m.status).toBe('published');
    expect(m.latestRun?.runId).toBe('p');
    expect(m.refused).toEqual({ count: 1, latest: [refused] });
  });

  it('waiting for files: names what arrived and what is missing', () => {
    const m = monthInfo(P, [], files.slice(0, 2), null, null, [], graph);
    expect([m.status, m.words]).toEqual([
      'waiting-for-files',
      'erp.xlsx and web.xlsx arrived, waiting for liaison.xlsx',
    ]);
  });
});
