import { describe, expect, it } from 'vitest';
import { blockingFailures, checkResultOf } from '../stage/assets-runner.js';
import { assetStageHandler, stageCodeVersion } from '../stage/handler.js';
import {
  checkKey,
  declaredCheck,
  defineAsset,
  defineStage,
  errorCheck,
  resolvePublishedInputs,
  warnCheck,
  type CheckKeyOf,
} from './define.js';

const run = () => ({ passed: true });
const erpClean = defineAsset({
  key: 'erp_clean',
  kind: 'table',
  module: import.meta.url,
  description: 'a test asset',
  checks: [
    errorCheck('product_id_unique', 'no id twice', { run }),
    errorCheck('reported_only', 'an error that stops nothing', { run, blocking: false }),
    warnCheck('price_not_negative', 'no negative price', { run }),
  ],
  compute: () => Promise.resolve({ kind: 'table' }),
});

describe('check specs: blocking is its own field', () => {
  it('defaults from severity (ERROR blocks, WARN does not) and an ERROR check may say it does not block', () => {
    expect(erpClean.checks.map((c) => [c.name, c.severity, c.blocking])).toEqual([
      ['product_id_unique', 'ERROR', true],
      ['reported_only', 'ERROR', false],
      ['price_not_negative', 'WARN', false],
    ]);
  });

  it('a failed non-blocking ERROR check stops nothing; a failed blocking one does', () => {
    const failed = erpClean.checks.map((c) => checkResultOf(erpClean, c, { passed: false }));
    expect(blockingFailures(failed).map((r) => r.check)).toEqual(['product_id_unique']);
  });
});

describe('check keys are typed per asset', () => {
  it('names a declared check (or the expectations check) as <asset>.<check>', () => {
    const key: CheckKeyOf<typeof erpClean> = checkKey(erpClean, 'product_id_unique');
    expect(key).toBe('erp_clean.product_id_unique');
    expect(checkKey(erpClean, 'matches_expectations')).toBe('erp_clean.matches_expectations');
  });

  it('does not compile for a check the asset does not declare, and refuses it at run time too', () => {
    // @ts-expect-error erp_clean declares no check sku_unique
    expect(() => checkKey(erpClean, 'sku_unique')).toThrow(
      'asset erp_clean declares no check sku_unique (it declares product_id_unique, reported_only, price_not_negative): a result for an undeclared check is refused',
    );
  });

  it('refuses a result for a check the asset did not declare, and takes severity and blocking from the declaration', () => {
    const stray = errorCheck('not_declared', 'x', { run });
    expect(() => checkResultOf(erpClean, stray, { passed: false })).toThrow(/declares no check not_declared/);
    const lying = { ...warnCheck('product_id_unique', 'x', { run }) };
    expect(checkResultOf(erpClean, lying, { passed: false })).toMatchObject({ severity: 'ERROR', blocking: true });
    expect(declaredCheck(erpClean, 'matches_expectations')).toMatchObject({ severity: 'ERROR', blocking: true });
  });
});

describe('a publishing sink takes its inputs from the graph (publishAs)', () => {
  const out = (key: 'premium_wines' | 'ordinary_wines', publishAs?: string) =>
    defineAsset({
      key,
      kind: 'table',
      module: import.meta.url,
      description: key,
      ...(publishAs ? { publishAs, publishSql: 'x' } : {}),
      compute: () => Promise.resolve({ kind: 'table' }),
    });
  const sink = defineAsset({
    key: 'extracts',
    deps: 'published',
    kind: 'sink',
    file: '_manifest.json',
    module: import.meta.url,
    description: 'the published set',
    compute: () => Promise.reject(new Error('not run here')),
  });
  const analytics = defineStage({
    stage: 'analytics',
    assets: [out('premium_wines', 'premium.csv'), out('ordinary_wines')],
  });
  const publisher = defineStage({ stage: 'publisher', assets: [sink] });

  it('resolves to exactly the assets that declare publishAs', () => {
    const [, resolved] = resolvePublishedInputs([analytics, publisher]);
    expect(resolved?.assets[0]?.deps).toEqual(['premium_wines']);
    expect(publisher.assets[0]?.deps).toEqual([]);
  });

  it('consumes the same event and has the same code version resolved or not (the service and the graph agree)', () => {
    const [, resolved] = resolvePublishedInputs([analytics, publisher]);
    expect(assetStageHandler(publisher).consumes).toEqual(['analysed']);
    expect(assetStageHandler(resolved!).consumes).toEqual(['analysed']);
    expect(stageCodeVersion(resolved!)).toBe(stageCodeVersion(publisher));
  });

  it('refuses a publishing stage with nothing to publish, and a publishing asset that is not a sink', () => {
    expect(() => resolvePublishedInputs([defineStage({ stage: 'analytics', assets: [] }), publisher])).toThrow(
      'stage publisher publishes, but no asset before it declares publishAs',
    );
    expect(() =>
      defineAsset({
        key: 'extracts',
        deps: 'published',
        kind: 'table',
        module: import.meta.url,
        description: 'x',
        compute: () => Promise.resolve({ kind: 'table' }),
      }),
    ).toThrow('defineAsset: asset extracts takes the published assets but is a table, not a sink');
  });
});
