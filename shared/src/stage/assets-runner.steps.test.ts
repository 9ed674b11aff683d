import { describe, expect, it } from 'vitest';
import { defineAsset, defineStage, errorCheck, warnCheck } from '../assets/define.js';
import { createError, type BottleneckError } from '../errors/index.js';
import { makeEvent, type CheckResult, type Materialization } from '../events/index.js';
import {
  blockingFailures,
  checkResultOf,
  gateError,
  inputErrorOf,
  runInfoOf,
  stageEvents,
  stopIfFailed,
  upstreamOf,
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

  it("takes the run's start from the event that carries it, and its expectations; pins only from a trigger", () => {
    const expectations = { rowCounts: { erp_clean: 2 } };
    const e = makeEvent(
      'file-arrived',
      {
        runId: 'run-1',
        partition: '2026-11',
        runStartedAt: '2026-11-26T09:00:00.000Z',
        expectations,
        materializations: {},
        checks: [],
        payload: {
          files: {
            erp: { key: 'incoming/2026-11/erp.xlsx', sha256: 'a', bytes: 1 },
            web: { key: 'incoming/2026-11/web.xlsx', sha256: 'b', bytes: 1 },
            liaison: { key: 'incoming/2026-11/liaison.xlsx', sha256: 'c', bytes: 1 },
          },
        },
      },
      NOW,
    );
    expect(runInfoOf(e)).toStrictEqual({
      runId: 'run-1',
      partition: '2026-11',
      startedAt: '2026-11-26T09:00:00.000Z',
      expectations,
    });
  });
});

describe('upstreamOf', () => {
  it('takes what this stage run made before what the event carries, and names stage and asset when neither has it', () => {
    const e = trigger({ raw_erp: mat('incoming/2026-11/erp.xlsx') });
    const made = { raw_erp: mat('staging/made-here') };
    expect(upstreamOf('clean', e, made, 'raw_erp').location).toBe('staging/made-here');
    expect(upstreamOf('clean', e, {}, 'raw_erp').location).toBe('incoming/2026-11/erp.xlsx');
    expect(() => upstreamOf('clean', e, {}, 'raw_web')).toThrow(
      expect.objectContaining({
        code: 'BN_ERR_EVENT_INVALID',
        stage: 'clean',
        message: 'the trigger event of run run-1 has no materialization of raw_web, which stage clean needs',
      }),
    );
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
    const errors = new Map<'erp_clean' | 'web_clean', BottleneckError>([
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

describe('stopIfFailed: the order of the check results', () => {
  const three = defineAsset({
    key: 'erp_clean',
    deps: [],
    kind: 'table',
    module: import.meta.url,
    description: 'three checks',
    checks: [warnCheck('first', 'a', { run }), warnCheck('second', 'b', { run }), warnCheck('third', 'c', { run })],
    compute: () => Promise.resolve({ kind: 'table' }),
  });
  const stage = defineStage({ stage: 'clean', assets: [three] });
  const r = (name: string): CheckResult =>
    checkResultOf(
      three,
      three.checks.find((c) => c.name === name)!,
      { passed: true },
    );

  it('sorts every check of an asset by its declaration, the expectations check last', () => {
    const exp = checkResultOf(three, { ...three.checks[0]!, name: 'matches_expectations' }, { passed: true });
    const progress: StageProgress = { materializations: {}, checks: [r('third'), exp, r('second'), r('first')] };
    stopIfFailed(stage, new Map(), progress);
    expect(progress.checks.map((c) => c.check)).toEqual(['first', 'second', 'third', 'matches_expectations']);
  });
});

describe('blockingFailures and gateError (the verdict of the checks)', () => {
  const asset = defineAsset({
    key: 'erp_clean',
    deps: [],
    kind: 'table',
    module: import.meta.url,
    description: 'erp',
    checks: [
      errorCheck('unique', 'no id twice', { run }),
      errorCheck('priced', 'every row priced', { run, blocking: false }),
      warnCheck('sane', 'odd values', { run }),
      errorCheck('readable', 'the file reads', { run }),
    ],
    compute: () => Promise.resolve({ kind: 'table' }),
  });
  const failed = (name: string, o: { message?: string; metadata?: Record<string, unknown>; error?: unknown } = {}) =>
    checkResultOf(
      asset,
      asset.checks.find((c) => c.name === name)!,
      { passed: false, ...o } as never,
    );
  const expectation = checkResultOf(
    asset,
    { ...asset.checks[0]!, name: 'matches_expectations' },
    { passed: false, message: 'rowCount is 3, expected 4' },
  );
  const none: StageProgress = { materializations: {}, checks: [] };
  const corrupt = (row: number, message?: string) =>
    failed('readable', {
      ...(message ? { message } : {}),
      error: { code: 'BN_ERR_INPUT_CORRUPT', location: { file: 'erp.xlsx', sheet: 'Feuil1', column: 'B', row } },
    });

  it('counts only failed ERROR checks that block: a non-blocking ERROR and a WARN stop nothing', () => {
    const ok = checkResultOf(asset, asset.checks[0]!, { passed: true });
    expect(blockingFailures([ok, failed('priced'), failed('sane')])).toEqual([]);
    expect(blockingFailures([failed('priced'), failed('unique')]).map((r) => r.check)).toEqual(['unique']);
    // A result that says blocking but WARN (an event from elsewhere): only an ERROR blocks.
    expect(blockingFailures([{ ...failed('sane'), blocking: true }])).toEqual([]);
  });

  it('refuses to judge nothing (a programming error)', () => {
    expect(() => gateError('clean', [], none)).toThrow(new TypeError('internal: a failed check is missing'));
  });

  it("fails with the input error every failed check stands for: the first one's code and cell, every message", () => {
    const e = gateError(
      'clean',
      [corrupt(3, 'erp.xlsx row 3 is damaged'), corrupt(9, 'erp.xlsx row 9 is damaged')],
      none,
    );
    expect(e).toMatchObject({
      code: 'BN_ERR_INPUT_CORRUPT',
      asset: 'erp_clean',
      stage: 'clean',
      message: 'erp.xlsx row 3 is damaged; erp.xlsx row 9 is damaged',
      location: { file: 'erp.xlsx', sheet: 'Feuil1', column: 'B', row: 3 },
      details: { failedChecks: ['erp_clean.readable', 'erp_clean.readable'] },
    });
  });

  it('fails with BN_ERR_CHECK_FAILED when one failed check is no input error, or an input error says nothing', () => {
    const mixed = gateError(
      'clean',
      [corrupt(3, 'erp.xlsx row 3 is damaged'), failed('unique', { message: 'id 7 twice' })],
      none,
    );
    expect(mixed).toMatchObject({
      code: 'BN_ERR_CHECK_FAILED',
      message:
        'blocking check failed in stage clean: erp_clean.readable: erp.xlsx row 3 is damaged; erp_clean.unique: id 7 twice',
    });
    const silent = gateError('clean', [corrupt(3, 'erp.xlsx row 3 is damaged'), corrupt(9)], none);
    expect(silent.code).toBe('BN_ERR_CHECK_FAILED');
  });

  it('says what a failed check without a message found: its description and metadata, cut at 300 characters', () => {
    const e = gateError('clean', [failed('unique', { metadata: { duplicates: 2 } })], none);
    expect(e.message).toBe('blocking check failed in stage clean: erp_clean.unique: no id twice: {"duplicates":2}');
    const long = gateError('clean', [failed('unique', { metadata: { ids: 'x'.repeat(400) } })], none);
    expect(long.message).toBe(
      `blocking check failed in stage clean: erp_clean.unique: no id twice: ${`{"ids":"${'x'.repeat(400)}`.slice(0, 300)}`,
    );
  });

  it('fails with BN_ERR_EXPECTATION_FAILED only when every failed check is the expectations check', () => {
    expect(gateError('clean', [expectation], none).code).toBe('BN_ERR_EXPECTATION_FAILED');
    expect(gateError('clean', [expectation, failed('unique', { message: 'id 7 twice' })], none).code).toBe(
      'BN_ERR_CHECK_FAILED',
    );
  });
});

describe('checkResultOf', () => {
  const [erp] = clean.assets as [(typeof clean.assets)[0]];
  const asWarning = warnCheck('unique', 'no id twice', { run });

  it("takes severity and blocking from the asset's declaration, not from the check handed in", () => {
    expect(checkResultOf(erp, asWarning, { passed: false })).toMatchObject({
      asset: 'erp_clean',
      check: 'unique',
      severity: 'ERROR',
      blocking: true,
    });
  });

  it('given only an asset key, takes the check as it is', () => {
    expect(checkResultOf('erp_clean', asWarning, { passed: false })).toStrictEqual({
      asset: 'erp_clean',
      check: 'unique',
      passed: false,
      severity: 'WARN',
      blocking: false,
      description: 'no id twice',
      metadata: {},
    });
  });

  it('refuses a result for a check the asset does not declare', () => {
    expect(() => checkResultOf(erp, warnCheck('other', 'x', { run }), { passed: true })).toThrow(
      'asset erp_clean declares no check other (it declares unique, sane): a result for an undeclared check is refused',
    );
  });

  it('cuts a long message to what an event may carry; a passed check says only what it says itself', () => {
    const r = checkResultOf(erp, erp.checks[0]!, { passed: false, message: 'y'.repeat(600) });
    expect(r.message).toBe(`${'y'.repeat(500)}... (100 more characters)`);
    // A passed check speaks only when it has to ("nothing to compare" on a first month), never from its found().
    expect(checkResultOf(erp, erp.checks[0]!, { passed: true, message: 'fine' }).message).toBe('fine');
    expect(checkResultOf(erp, erp.checks[0]!, { passed: true })).not.toHaveProperty('message');
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

  it('never takes itself, nor a key that is no asset of the graph', () => {
    const published = { publish: { as: 'x.csv', location: 'staging/x.csv' } };
    const e = analysed({
      extracts: mat('staging/e.json', published),
      not_an_asset: mat('staging/n.parquet', published),
      premium_wines: mat('staging/p.parquet', published),
    } as never);
    expect(withPublishedInputs(sink, e).deps).toEqual(['premium_wines']);
  });

  it('refuses an event with nothing to publish', () => {
    expect(() => withPublishedInputs(sink, analysed({ wine_price_zscores: mat('staging/z.parquet') }))).toThrow(
      expect.objectContaining({
        code: 'BN_ERR_EVENT_INVALID',
        asset: 'extracts',
        message: 'the analysed event of run run-1 carries no published asset (publishAs) for extracts to publish',
      }),
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

  it('keeps the code alone when there is no cell, and a row only when it is a number', () => {
    expect(inputErrorOf({ code: 'BN_ERR_INPUT_CORRUPT' })).toStrictEqual({ code: 'BN_ERR_INPUT_CORRUPT' });
    expect(inputErrorOf({ code: 'BN_ERR_INPUT_CORRUPT', location: null })).toStrictEqual({
      code: 'BN_ERR_INPUT_CORRUPT',
    });
    expect(inputErrorOf({ code: 'BN_ERR_INPUT_CORRUPT', location: 'erp.xlsx' })).toStrictEqual({
      code: 'BN_ERR_INPUT_CORRUPT',
    });
    expect(
      inputErrorOf({ code: 'BN_ERR_INPUT_CORRUPT', location: { sheet: 'Feuil1', column: 'B', row: '3' } }),
    ).toStrictEqual({ code: 'BN_ERR_INPUT_CORRUPT', location: { sheet: 'Feuil1', column: 'B' } });
  });
});
