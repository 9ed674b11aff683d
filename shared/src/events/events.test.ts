import { describe, expect, it } from 'vitest';
import {
  EVENT_TYPES,
  PipelineEventSchema,
  carry,
  decodeEvent,
  makeEvent,
  parseEvent,
  type PipelineEvent,
} from './index.js';

const NOW = new Date('2026-02-01T06:00:00.000Z');
const base = { runId: 'run-2026-01.a_1', partition: '2026-01', materializations: {}, checks: [] };

const invalid = (raw: unknown, message: string) => {
  let caught: unknown;
  try {
    parseEvent(raw);
  } catch (e) {
    caught = e;
  }
  expect(caught).toMatchObject({ code: 'BN_ERR_EVENT_INVALID', retriable: false, message });
};

describe('makeEvent', () => {
  it('fills id, type, v and ts, and validates', () => {
    const e = makeEvent('trigger', { ...base, payload: { source: 'schedule' } }, NOW);
    expect(e).toEqual({
      ...base,
      payload: { source: 'schedule' },
      type: 'trigger',
      v: 1,
      id: e.id,
      ts: '2026-02-01T06:00:00.000Z',
      runStartedAt: '2026-02-01T06:00:00.000Z',
    });
    expect(e.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(makeEvent('trigger', { ...base, payload: { source: 'schedule' } }).id).not.toBe(e.id);
  });

  it('refuses what does not match the schema, naming the field', () => {
    expect(() => makeEvent('trigger', { ...base, payload: { source: 'email' as 'cli' } })).toThrow(
      expect.objectContaining({
        message:
          'event of type "trigger" does not match its schema: payload.source: Invalid option: expected one of "schedule"|"manual"|"cli"|"upload"|"backfill"|"reexecution"|"console"',
      }),
    );
    expect(() => makeEvent('merged', { ...base, payload: { extra: 1 } as unknown as Record<string, never> })).toThrow(
      expect.objectContaining({
        message: 'event of type "merged" does not match its schema: payload: Unrecognized key: "extra"',
      }),
    );
  });

  it('refuses a Date where the schema wants the ISO text a JSON round trip would give', () => {
    expect(() =>
      makeEvent('failed', {
        ...base,
        payload: {
          stage: 'clean',
          code: 'BN_ERR_INPUT_BAD_VALUE',
          errorClass: 'BottleneckError',
          message: 'm',
          retriable: false,
          failedAt: NOW as unknown as string,
        },
      }),
    ).toThrow(
      expect.objectContaining({
        message:
          'event of type "failed" does not match its schema: payload.failedAt: Invalid input: expected string, received Date',
      }),
    );
  });
});

describe('parseEvent and decodeEvent', () => {
  it('round-trips every event type through JSON unchanged', () => {
    const events: PipelineEvent[] = [
      makeEvent('trigger', { ...base, payload: { source: 'upload' } }),
      makeEvent('file-arrived', {
        ...base,
        payload: {
          files: {
            erp: { key: 'incoming/2026-01/erp.xlsx', sha256: 'a'.repeat(64), bytes: 1 },
            web: { key: 'incoming/2026-01/web.xlsx', sha256: 'b'.repeat(64), bytes: 2 },
            liaison: { key: 'incoming/2026-01/liaison.xlsx', sha256: 'c'.repeat(64), bytes: 3 },
          },
        },
      }),
      makeEvent('cleaned', { ...base, payload: {} }),
      makeEvent('validated', { ...base, payload: {} }),
      makeEvent('merged', {
        ...base,
        materializations: {
          merged_with_revenue: {
            location: 'staging/2026-01/r/m.parquet',
            dataVersion: 'd'.repeat(64),
            metadata: { rowCount: 714, durationMs: 3.5, custom: { nested: [1, 'x'] } },
          },
        },
        checks: [
          {
            asset: 'merged_with_revenue',
            check: 'keys_unique',
            passed: true,
            severity: 'ERROR',
            blocking: true,
            description: 'd',
            metadata: {},
          },
        ],
        expectations: { rowCounts: { merged_with_revenue: 714 }, totalRevenue: '70568.60', premium: 30, ordinary: 684 },
        payload: {},
      }),
      makeEvent('analysed', { ...base, payload: {} }),
      makeEvent('published', {
        ...base,
        payload: {
          manifestKey: 'extracts/2026-01/_manifest.json',
          files: [{ key: 'extracts/2026-01/a.csv', bytes: 10, sha256: 'e'.repeat(64) }],
        },
      }),
      makeEvent('failed', {
        ...base,
        payload: {
          stage: 'clean',
          asset: 'erp_clean',
          code: 'BN_ERR_INPUT_BAD_VALUE',
          errorClass: 'BottleneckError',
          message: 'm',
          retriable: false,
          location: { file: 'erp.xlsx', sheet: 'Sheet1', column: 'price', row: 12 },
          failedAt: '2026-02-01T06:00:00+01:00',
          trigger: { id: 'x', type: 'file-arrived', v: 1, ts: '2026-02-01T05:00:00.000Z' },
        },
      }),
    ];
    expect(events.map((e) => e.type)).toEqual([...EVENT_TYPES]);
    for (const e of events) {
      const back = decodeEvent(JSON.stringify(e));
      expect(back).toEqual(e);
      expect(parseEvent(JSON.parse(JSON.stringify(e)))).toEqual(e);
    }
  });

  it('knows exactly the event types of EVENT_TYPES', () => {
    const inSchema = PipelineEventSchema.options.map((o) => o.shape.type.value);
    expect([...inSchema].sort()).toEqual([...EVENT_TYPES].sort());
  });

  it('names a missing field', () => {
    const { runId: _drop, ...noRunId } = makeEvent('trigger', { ...base, payload: { source: 'cli' } });
    invalid(
      noRunId,
      'event of type "trigger" does not match its schema: runId: Invalid input: expected string, received undefined',
    );
    const { payload: _p, ...noPayload } = makeEvent('cleaned', { ...base, payload: {} });
    invalid(
      noPayload,
      'event of type "cleaned" does not match its schema: payload: Invalid input: expected object, received undefined',
    );
  });

  it('refuses a partition that is not YYYY-MM', () => {
    const e = makeEvent('trigger', { ...base, payload: { source: 'cli' } });
    for (const partition of ['2026-13', '2026-00', '2026-1', '26-01', '2026-01-01', '2026/01', '']) {
      invalid(
        { ...e, partition },
        'event of type "trigger" does not match its schema: partition: partition must be YYYY-MM',
      );
    }
    for (const partition of ['2026-01', '2026-12', '1999-10'])
      expect(parseEvent({ ...e, partition }).partition).toBe(partition);
  });

  it('refuses an unsafe run id', () => {
    const e = makeEvent('trigger', { ...base, payload: { source: 'cli' } });
    for (const runId of ['../x', 'a/b', '', 'r'.repeat(129)]) {
      invalid(
        { ...e, runId },
        'event of type "trigger" does not match its schema: runId: runId must be 1-128 characters of [A-Za-z0-9._-]',
      );
    }
  });

  it('refuses an unknown type, another version, a timestamp without offset and a non-object', () => {
    const e = makeEvent('trigger', { ...base, payload: { source: 'cli' } });
    invalid(
      { ...e, type: 'exploded' },
      "event of type \"exploded\" does not match its schema: type: Invalid discriminator value. Expected 'trigger' | 'file-arrived' | 'cleaned' | 'validated' | 'merged' | 'analysed' | 'published' | 'failed'",
    );
    invalid({ ...e, v: 2 }, 'event of type "trigger" does not match its schema: v: Invalid input: expected 1');
    invalid(
      { ...e, ts: '2026-02-01 06:00' },
      'event of type "trigger" does not match its schema: ts: Invalid ISO datetime',
    );
    invalid(42, 'event of type "?" does not match its schema: (root): Invalid input: expected object, received number');
  });

  it('lists every field at fault', () => {
    const e = makeEvent('trigger', { ...base, payload: { source: 'cli' } });
    invalid(
      { ...e, partition: 'x', id: '' },
      'event of type "trigger" does not match its schema: id: Too small: expected string to have >=1 characters; partition: partition must be YYYY-MM',
    );
  });

  it('decodeEvent refuses text that is not JSON', () => {
    let parseMessage = '';
    try {
      JSON.parse('{"type": "trigger",');
    } catch (e) {
      parseMessage = (e as Error).message;
    }
    expect(() => decodeEvent('{"type": "trigger",')).toThrow(
      expect.objectContaining({ code: 'BN_ERR_EVENT_INVALID', message: `message is not JSON: ${parseMessage}` }),
    );
  });
});

describe('carry', () => {
  it('carries run, partition, materializations, checks and expectations, as copies', () => {
    const e = makeEvent('merged', {
      ...base,
      materializations: { a: { location: 'k', dataVersion: 'v', metadata: { durationMs: 1 } } },
      checks: [
        { asset: 'a', check: 'c', passed: true, severity: 'WARN', blocking: false, description: 'd', metadata: {} },
      ],
      expectations: { premium: 30 },
      payload: {},
    });
    const c = carry(e);
    expect(c).toEqual({
      runId: e.runId,
      partition: e.partition,
      materializations: e.materializations,
      checks: e.checks,
      expectations: { premium: 30 },
    });
    c.checks.push(c.checks[0]!);
    c.materializations.b = c.materializations.a!;
    expect(e.checks).toHaveLength(1);
    expect(Object.keys(e.materializations)).toEqual(['a']);
  });

  it('carries the start of the run from its trigger to every later event', () => {
    const t = makeEvent('trigger', { ...base, payload: { source: 'cli' } }, NOW);
    const later = makeEvent('cleaned', { ...carry(t), payload: {} }, new Date(NOW.getTime() + 60_000));
    expect(later.runStartedAt).toBe(NOW.toISOString());
    expect(later.ts).not.toBe(later.runStartedAt);
  });

  it('carries no expectations key when the run has none', () => {
    expect(Object.hasOwn(carry(makeEvent('cleaned', { ...base, payload: {} })), 'expectations')).toBe(false);
  });
});
