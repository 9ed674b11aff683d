import { describe, expect, it } from 'vitest';
import { defineAsset, defineStage, errorCheck, warnCheck } from '../assets/define.js';
import { createError } from '../errors/index.js';
import { makeEvent, type CheckResult, type Materialization } from '../events/index.js';
import {
  checkResultOf,
  inputErrorOf,
  runInfoOf,
  stageEvents,
  stopIfFailed,
  verifyInputs,
  withPublishedInputs,
  type StageProgress,
} from './assets-runner.js';

const NOW = new Date('2026-11-26T10:00:00Z');
const run = () => ({ passed: true });
const table = (key: 'erp_clean' | 'web_clean', deps: ('raw_erp' | 'raw_web')[] = []) =>
  defineAsset({
    key,
    deps,
    kind: 'table',
    module: import.meta.url,
    description: key,
    checks: [errorCheck('unique', 'no id twice', { run }), warnCheck('sane', 'odd values', { run })],
    compute: () => Promise.resolve({ kind: 'table' }),
  });
const clean = defineStage({ stage: 'clean', assets: [table('erp_clean', ['raw_erp']), table('web_clean')] });
const mat = (location: string, metadata: Record<string, unknown> = {}): Materialization => ({
  location,
  dataVersion: 'v',
  metadata: { durationMs: 1, ...metadata },
});
const trigger = (materializations: Record<string, Materialization> = {}) =>
  makeEvent(
    'trigger',
    {
      runId: 'run-1',
      partition: '2026-11',
      materializations,
      checks: [],
      payload: {
        source: 'upload',
        files: {
          erp: { key: 'incoming/2026-11/erp.xlsx', etag: 'e1' },
          web: { key: 'incoming/2026-11/web.xlsx', etag: 'e2' },
          liaison: { key: 'incoming/2026-11/liaison.xlsx', etag: 'e3' },
        },
      },
    },
    NOW,
  );

describe('runInfoOf (step 1)', () => {
  it('names the run, its start, and pins the versions of the files its trigger saw', () => {
    const e = trigger();
    expect(runInfoOf(e)).toEqual({
      runId: 'run-1',
      partition: '2026-11',
      startedAt: e.ts,
      pins: {
        'incoming/2026-11/erp.xlsx': 'e1',
        'incoming/2026-11/web.xlsx': 'e2',
        'incoming/2026-11/liaison.xlsx': 'e3',
      },
    });
  });
});

describe('verifyInputs (step 2)', () => {
  it("takes an event carrying this run's upstream assets", () => {
    expect(() => verifyInputs(clean, trigger({ raw_erp: mat('incoming/2026-11/erp.xlsx') }))).not.toThrow();
  });

  it('refuses an event without an upstream asset the stage reads', () => {
    expect(() => verifyInputs(clean, trigger())).toThrow(
      'the trigger event of run run-1 has no materialization of raw_erp, which stage clean needs',
    );
  });

  it('refuses an upstream asset of another month (a forged or replayed event)', () => {
    expect(() => verifyInputs(clean, trigger({ raw_erp: mat('incoming/2026-10/erp.xlsx') }))).toThrow(
      /names raw_erp at incoming\/2026-10\/erp.xlsx, outside incoming\/2026-11\/: refused/,
    );
  });
});

describe('stopIfFailed (step 4)', () => {
  const [erp, web] = clean.assets as [(typeof clean.assets)[0], (typeof clean.assets)[0]];
  const result = (a: typeof erp, name: string, passed: boolean): CheckResult =>
    checkResultOf(
      a,
      a.checks.find((c) => c.name === name)!,
      { passed },
    );

  it('passes when no asset failed and no blocking check failed (a failed warning stops nothing)', () => {
    const progress: StageProgress = { materializations: {}, checks: [result(erp, 'sane', false)] };
    expect(() => stopIfFailed(clean, new Map(), progress)).not.toThrow();
  });

  it('throws the first asset error in declaration order, whichever failed first in time, with the progress', () => {
    const errors = new Map<'erp_clean' | 'web_clean', unknown>([
      ['web_clean', createError('BN_ERR_INPUT_BAD_VALUE', 'web row 3')],
      ['erp_clean', createError('BN_ERR_INPUT_BAD_VALUE', 'erp row 7')],
    ]);
    const progress: StageProgress = { materializations: { web_clean: mat('staging/x') }, checks: [] };
    expect(() => stopIfFailed(clean, errors, progress)).toThrow(
      expect.objectContaining({
        message: 'erp row 7',
        details: { checks: [], materializations: progress.materializations },
      }),
    );
  });

  it('throws BN_ERR_CHECK_FAILED for a failed blocking check, and sorts results in declaration order', () => {
    const progress: StageProgress = {
      materializations: {},
      checks: [result(web, 'unique', true), result(erp, 'sane', true), result(erp, 'unique', false)],
    };
    expect(() => stopIfFailed(clean, new Map(), progress)).toThrow(
      expect.objectContaining({
        code: 'BN_ERR_CHECK_FAILED',
        details: expect.objectContaining({ failedChecks: ['erp_clean.unique'] }),
      }),
    );
    expect(progress.checks.map((c) => `${c.asset}.${c.check}`)).toEqual([
      'erp_clean.unique',
      'erp_clean.sane',
      'web_clean.unique',
    ]);
  });
});

describe('stageEvents (step 5)', () => {
  it('emits done then the gate, ids from the run, each carrying the run so far and this stage', () => {
    const before = trigger({ raw_erp: mat('incoming/2026-11/erp.xlsx') });
    const progress: StageProgress = {
      materializations: { erp_clean: mat('staging/2026-11/run-1/erp_clean.parquet') },
      checks: [],
    };
    const out = stageEvents(clean, before, progress, NOW);
    expect(out.map((e) => [e.type, e.id])).toEqual([
      ['cleaned', 'run-1.cleaned'],
      ['validated', 'run-1.validated'],
    ]);
    for (const e of out) expect(Object.keys(e.materializations)).toEqual(['raw_erp', 'erp_clean']);
  });
});

describe('withPublishedInputs', () => {
  const sink = defineAsset({
    key: 'extracts',
    deps: 'published',
    kind: 'sink',
    file: '_manifest.json',
    module: import.meta.url,
    description: 'x',
    compute: () => Promise.reject(new Error('not run')),
  });
  const analysed = (materializations: Record<string, Materialization>) =>
    makeEvent('analysed', { runId: 'run-1', partition: '2026-11', materializations, checks: [], payload: {} });

  it("takes the event's assets marked published, and only those", () => {
    const e = analysed({
      merged_with_revenue: mat('staging/a.parquet', { publish: { as: 'm.csv', location: 'staging/m.csv' } }),
      wine_price_zscores: mat('staging/z.parquet'),
      premium_wines: mat('staging/p.parquet', { publish: { as: 'p.csv', location: 'staging/p.csv' } }),
    });
    expect(withPublishedInputs(sink, e).deps).toEqual(['merged_with_revenue', 'premium_wines']);
  });

  it('refuses an event with nothing to publish', () => {
    expect(() => withPublishedInputs(sink, analysed({ wine_price_zscores: mat('staging/z.parquet') }))).toThrow(
      'the analysed event of run run-1 carries no published asset (publishAs) for extracts to publish',
    );
  });
});

describe('inputErrorOf', () => {
  it("reads the input error a check's metadata names: a code of the registry and its cell, nothing else", () => {
    expect(
      inputErrorOf({ code: 'BN_ERR_INPUT_CORRUPT', location: { file: 'erp.xlsx', row: 3, sheet: 7, extra: 'x' } }),
    ).toEqual({ code: 'BN_ERR_INPUT_CORRUPT', location: { file: 'erp.xlsx', row: 3 } });
    expect(inputErrorOf({ code: 'BN_ERR_NOT_A_CODE' })).toBeUndefined();
    expect(inputErrorOf('BN_ERR_INPUT_CORRUPT')).toBeUndefined();
    expect(inputErrorOf(undefined)).toBeUndefined();
  });
});
