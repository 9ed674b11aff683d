import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FolderStore } from '../adapters/folder-store.js';
import {
  defineAsset,
  defineStage,
  errorCheck,
  warnCheck,
  type AssetDefinition,
  type ComputeResult,
} from '../assets/define.js';
import type { BottleneckError } from '../errors/index.js';
import { makeEvent, type CheckResult, type Materialization, type PipelineEvent } from '../events/index.js';
import { cleanupTestContexts, testContext } from '../testing/context.js';
import { runStage } from './assets-runner.js';

const dirs: string[] = [];
afterAll(async () => {
  await cleanupTestContexts();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function setup() {
  const seen: { assets: string[]; checks: CheckResult[] } = { assets: [], checks: [] };
  const { ctx, store, dir } = await testContext({
    now: () => new Date('2026-11-26T10:00:00Z'),
    progress: { onAsset: (p) => seen.assets.push(p.asset), onCheck: (c) => seen.checks.push(c) },
  });
  return { ctx, store: store as FolderStore, seen, dir };
}

const module = new URL('./fixtures/', import.meta.url).href;
/** A merged event as the merge stage would emit it, with merged_with_revenue stored as Parquet. */
async function mergedEvent(
  store: FolderStore,
  dir: string,
  extra: Partial<PipelineEvent> = {},
): Promise<PipelineEvent> {
  const { Duck } = await import('../duck/index.js');
  const duck = new Duck();
  const path = join(dir, 'm.parquet');
  await duck.with(async (db) => {
    await db.run(
      `CREATE TEMP TABLE m AS SELECT * FROM (VALUES (1, 10.00::DECIMAL(18,2)), (2, 5.50::DECIMAL(18,2)), (3, 2.25::DECIMAL(18,2))) t(product_id, revenue)`,
    );
    await db.toParquet('m', path);
  });
  await duck.close();
  const put = await store.putFile('staging/2026-11/run-1/merged_with_revenue.parquet', path);
  const m: Materialization = { location: put.key, dataVersion: put.sha256, metadata: { rowCount: 3, durationMs: 1 } };
  return makeEvent('merged', {
    runId: 'run-1',
    partition: '2026-11',
    materializations: { merged_with_revenue: m },
    checks: [],
    payload: {},
    ...extra,
  } as never);
}

const table = (
  key: AssetDefinition['key'],
  deps: AssetDefinition['deps'],
  sql: string,
  checks: AssetDefinition['checks'] = [],
) =>
  defineAsset({
    key,
    deps,
    kind: 'table',
    module,
    description: key,
    checks,
    async compute(ctx) {
      await (await ctx.db()).run(sql);
      return { kind: 'table' };
    },
  });

describe('runStage: the one stage runner', () => {
  it('computes assets after their upstream assets, persists tables as Parquet with rows and columns, and emits the stage event with everything', async () => {
    const { ctx, store, seen, dir } = await setup();
    const rpp = table(
      'revenue_per_product',
      ['merged_with_revenue'],
      'CREATE TABLE revenue_per_product AS SELECT product_id, revenue FROM merged_with_revenue ORDER BY revenue DESC',
    );
    const z = table(
      'wine_price_zscores',
      ['merged_with_revenue'],
      'CREATE TABLE wine_price_zscores AS SELECT product_id, 0.5 AS z FROM merged_with_revenue',
    );
    const stage = defineStage({ stage: 'analytics', assets: [rpp, z] });
    const event = await mergedEvent(store, dir);
    const [out] = await runStage(stage, event, ctx);
    expect(out!.type).toBe('analysed');
    expect(Object.keys(out!.materializations).sort()).toEqual([
      'merged_with_revenue',
      'revenue_per_product',
      'wine_price_zscores',
    ]);
    const m = out!.materializations.revenue_per_product!;
    expect(m.location).toBe('staging/2026-11/run-1/revenue_per_product.parquet');
    expect(m.metadata).toMatchObject({
      rowCount: 3,
      columns: [
        { name: 'product_id', type: 'INTEGER' },
        { name: 'revenue', type: 'DECIMAL(18,2)' },
      ],
    });
    expect(m.dataVersion).toMatch(/^[0-9a-f]{64}$/);
    expect((await store.head(m.location))!.bytes).toBe(m.metadata.bytes);
    expect(seen.assets.sort()).toEqual(['revenue_per_product', 'wine_price_zscores']);
  });

  it('tells the IO manager the data version and ETag of a source it read, so that a load in the same process need not hash it again', async () => {
    const { ctx } = await setup();
    const told: unknown[][] = [];
    ctx.io.observed = (...a) => void told.push(a);
    const raw = defineAsset({
      key: 'raw_erp',
      kind: 'source',
      file: 'erp.xlsx',
      module,
      description: 'r',
      async compute() {
        return {
          kind: 'object',
          path: 'unused',
          materialization: {
            location: 'incoming/2026-11/erp.xlsx',
            dataVersion: 'f'.repeat(64),
            metadata: { bytes: 3, etag: '3-1-2', durationMs: 0 },
          },
        };
      },
    });
    const trigger = makeEvent('trigger', {
      runId: 'run-1',
      partition: '2026-11',
      materializations: {},
      checks: [],
      payload: { source: 'cli' },
    });
    const file = { key: 'incoming/2026-11/erp.xlsx', sha256: 'f'.repeat(64), bytes: 3 };
    const payload = () => ({ files: { erp: file, web: file, liaison: file } });
    await runStage(defineStage({ stage: 'ingest', assets: [raw], payload }), trigger, ctx);
    expect(told).toEqual([['incoming/2026-11/erp.xlsx', 'f'.repeat(64), '3-1-2']]);
  });

  it('stops everything downstream of a failed blocking check, runs the rest, and fails with what was found', async () => {
    const { ctx, store, seen, dir } = await setup();
    const rpp = table(
      'revenue_per_product',
      ['merged_with_revenue'],
      'CREATE TABLE revenue_per_product AS SELECT * FROM merged_with_revenue',
      [
        errorCheck('total_revenue_preserved', 'nothing lost', {
          run: () => ({ passed: false, metadata: { lost: '1.00' } }),
          found: (m) => `${String(m.lost)} lost`,
        }),
        warnCheck('a_warning', 'a warning', { run: () => ({ passed: false, message: 'two things are odd' }) }),
      ],
    );
    let reportComputed = false;
    const report = defineAsset({
      key: 'revenue_report',
      deps: ['revenue_per_product'],
      kind: 'file',
      file: 'r.txt',
      module,
      description: 'r',
      async compute() {
        reportComputed = true;
        return { kind: 'file', path: '/nonexistent' };
      },
    });
    const z = table('wine_price_zscores', ['merged_with_revenue'], 'CREATE TABLE wine_price_zscores AS SELECT 1 AS z');
    const err = await runStage(
      defineStage({ stage: 'analytics', assets: [rpp, report, z] }),
      await mergedEvent(store, dir),
      ctx,
    ).catch((e: BottleneckError) => e);
    expect(reportComputed).toBe(false);
    expect(err).toMatchObject({
      code: 'BN_ERR_CHECK_FAILED',
      asset: 'revenue_per_product',
      stage: 'analytics',
      message: 'blocking check failed in stage analytics: revenue_per_product.total_revenue_preserved: 1.00 lost',
    });
    // What ran is in the error, for the failed event and the run record: the independent asset too.
    expect(Object.keys((err as BottleneckError).details!.materializations as object).sort()).toEqual([
      'revenue_per_product',
      'wine_price_zscores',
    ]);
    expect(seen.checks.map((c) => [c.check, c.passed, c.message])).toEqual([
      ['total_revenue_preserved', false, '1.00 lost'],
      ['a_warning', false, 'two things are odd'],
    ]);
  });

  it('runs a cross-asset check once the assets it reads are there, and a WARN never blocks', async () => {
    const { ctx, store, dir } = await setup();
    const order: string[] = [];
    const rpp = defineAsset({
      key: 'revenue_per_product',
      deps: ['merged_with_revenue'],
      kind: 'table',
      module,
      description: 'r',
      checks: [
        warnCheck('cross', 'reads zscores', {
          deps: ['wine_price_zscores'],
          run: async (c) => {
            order.push('check');
            const n = await (await c.db()).one('SELECT count(*)::INTEGER AS n FROM wine_price_zscores');
            return { passed: false, metadata: { n: n.n } };
          },
        }),
      ],
      async compute(c) {
        order.push('rpp');
        await (await c.db()).run('CREATE TABLE revenue_per_product AS SELECT 1 AS x');
        return { kind: 'table' };
      },
    });
    const z = defineAsset({
      key: 'wine_price_zscores',
      deps: ['merged_with_revenue'],
      kind: 'table',
      module,
      description: 'z',
      async compute(c) {
        await new Promise((r) => setTimeout(r, 50));
        order.push('z');
        await (await c.db()).run('CREATE TABLE wine_price_zscores AS SELECT * FROM merged_with_revenue');
        return { kind: 'table' };
      },
    });
    const [out] = await runStage(
      defineStage({ stage: 'analytics', assets: [rpp, z] }),
      await mergedEvent(store, dir),
      ctx,
    );
    expect(order).toEqual(['rpp', 'z', 'check']);
    expect(out!.checks).toEqual([
      expect.objectContaining({
        asset: 'revenue_per_product',
        check: 'cross',
        passed: false,
        severity: 'WARN',
        metadata: { n: 3 },
      }),
    ]);
  });

  it('reads a check from SQL: a boolean passed, the other columns as camelCase metadata', async () => {
    const { ctx, store, dir } = await setup();
    const sqlDir = await mkdtemp(join(tmpdir(), 'bn-sql-'));
    dirs.push(sqlDir);
    await writeFile(
      join(sqlDir, 'check_x.sql'),
      'SELECT count(*) = 0 AS passed, list(product_id ORDER BY product_id) AS product_ids FROM revenue_per_product WHERE revenue < 6',
    );
    await writeFile(join(sqlDir, 'check_bad.sql'), 'SELECT 1 AS passed');
    const mk = (check: string) =>
      defineAsset({
        key: 'revenue_per_product',
        deps: ['merged_with_revenue'],
        kind: 'table',
        module: new URL(`file://${sqlDir}/x.ts`).href,
        description: 'r',
        checks: [warnCheck('x', 'cheap ones', { sql: check })],
        async compute(c) {
          await (await c.db()).run('CREATE TABLE revenue_per_product AS SELECT * FROM merged_with_revenue');
          return { kind: 'table' };
        },
      });
    const [out] = await runStage(
      defineStage({ stage: 'analytics', assets: [mk('check_x')] }),
      await mergedEvent(store, dir),
      ctx,
    );
    expect(out!.checks[0]).toMatchObject({ passed: false, metadata: { productIds: [2, 3] } });
    await expect(
      runStage(defineStage({ stage: 'analytics', assets: [mk('check_bad')] }), await mergedEvent(store, dir), ctx),
    ).rejects.toMatchObject({
      code: 'BN_ERR_ASSET_FAILED',
      message:
        'asset revenue_per_product (stage analytics) failed: a check query must return a boolean column "passed"',
    });
  });

  it("wraps a crash in the asset's name and reports failures in declaration order, whichever came first", async () => {
    const { ctx, store, dir } = await setup();
    const boom = (key: AssetDefinition['key'], ms: number) =>
      defineAsset({
        key,
        deps: ['merged_with_revenue'],
        kind: 'table',
        module,
        description: key,
        async compute(): Promise<ComputeResult> {
          await new Promise((r) => setTimeout(r, ms));
          throw new TypeError(`${key} broke`);
        },
      });
    await expect(
      runStage(
        defineStage({ stage: 'analytics', assets: [boom('revenue_per_product', 80), boom('wine_price_zscores', 0)] }),
        await mergedEvent(store, dir),
        ctx,
      ),
    ).rejects.toMatchObject({
      code: 'BN_ERR_ASSET_FAILED',
      asset: 'revenue_per_product',
      retriable: false,
      message: 'asset revenue_per_product (stage analytics) failed: revenue_per_product broke',
    });
  });

  it('refuses an event without a materialization the stage needs, naming it, before anything runs', async () => {
    const { ctx } = await setup();
    let ran = false;
    const a = defineAsset({
      key: 'revenue_per_product',
      deps: ['merged_with_revenue'],
      kind: 'table',
      module,
      description: 'r',
      async compute() {
        ran = true;
        return { kind: 'table' };
      },
    });
    const e = makeEvent('merged', {
      runId: 'run-1',
      partition: '2026-11',
      materializations: {},
      checks: [],
      payload: {},
    });
    await expect(runStage(defineStage({ stage: 'analytics', assets: [a] }), e, ctx)).rejects.toMatchObject({
      code: 'BN_ERR_EVENT_INVALID',
      message:
        'the merged event of run run-1 has no materialization of merged_with_revenue, which stage analytics needs',
    });
    expect(ran).toBe(false);
  });

  it("refuses upstream assets that are not this run's: another month's or run's location, or an object changed since", async () => {
    const { ctx, store, dir } = await setup();
    let ran = false;
    const a = defineAsset({
      key: 'revenue_per_product',
      deps: ['merged_with_revenue'],
      kind: 'table',
      module,
      description: 'r',
      async compute() {
        ran = true;
        return { kind: 'table' };
      },
    });
    const stage = defineStage({ stage: 'analytics', assets: [a] });
    const good = await mergedEvent(store, dir);
    const m = good.materializations.merged_with_revenue!;
    // A hand-made event for 2025-12 whose asset points at 2025-11's staging.
    const other = { ...good, partition: '2025-12', materializations: { merged_with_revenue: m } } as PipelineEvent;
    await expect(runStage(stage, other, ctx)).rejects.toMatchObject({
      code: 'BN_ERR_EVENT_INVALID',
      retriable: false,
      message:
        "the merged event of run run-1 (2025-12) names merged_with_revenue at staging/2026-11/run-1/merged_with_revenue.parquet, outside staging/2025-12/run-1/: refused (an event may only carry its own run's assets)",
    });
    const escape = {
      ...good,
      materializations: {
        merged_with_revenue: { ...m, location: 'staging/2026-11/run-1/../run-2/merged_with_revenue.parquet' },
      },
    } as PipelineEvent;
    await expect(runStage(stage, escape, ctx)).rejects.toMatchObject({ code: 'BN_ERR_EVENT_INVALID' });
    // The object is written over after the event was made: its bytes are not the version named.
    await store.put(m.location, 'something else');
    await expect(runStage(stage, good, ctx)).rejects.toMatchObject({
      code: 'BN_ERR_EVENT_INVALID',
      message: expect.stringMatching(
        /^merged_with_revenue at staging\/2026-11\/run-1\/merged_with_revenue\.parquet is not the version the event names/,
      ),
    });
    expect(ran).toBe(false);
  });

  it('checks expectations from the row count and the figures an asset gives', async () => {
    const { ctx, store, dir } = await setup();
    const a = defineAsset({
      key: 'revenue_per_product',
      deps: ['merged_with_revenue'],
      kind: 'table',
      module,
      description: 'r',
      figures: (m) => ({ totalRevenue: String(m.total) }),
      async compute(c) {
        await (await c.db()).run('CREATE TABLE revenue_per_product AS SELECT * FROM merged_with_revenue');
        return { kind: 'table', metadata: { total: '17.75' } };
      },
    });
    const ok = await runStage(
      defineStage({ stage: 'analytics', assets: [a] }),
      await mergedEvent(store, dir, { expectations: { rowCounts: { revenue_per_product: 3 }, totalRevenue: '17.75' } }),
      ctx,
    );
    expect(ok[0]!.checks).toEqual([expect.objectContaining({ check: 'matches_expectations', passed: true })]);
    await expect(
      runStage(
        defineStage({ stage: 'analytics', assets: [a] }),
        await mergedEvent(store, dir, { expectations: { totalRevenue: '17.76' } }),
        ctx,
      ),
    ).rejects.toMatchObject({
      code: 'BN_ERR_EXPECTATION_FAILED',
      message:
        'blocking check failed in stage analytics: revenue_per_product.matches_expectations: totalRevenue is 17.75, expected 17.76',
    });
  });

  it("fails with the input error a check stands for (file, sheet, column, row), as ingest's vital check does", async () => {
    const { ctx, store, dir } = await setup();
    const a = defineAsset({
      key: 'revenue_per_product',
      deps: ['merged_with_revenue'],
      kind: 'table',
      module,
      description: 'r',
      checks: [
        errorCheck('vital', 'intact', {
          run: () => ({
            passed: false,
            message: 'erp.xlsx is corrupt',
            error: { code: 'BN_ERR_INPUT_CORRUPT', location: { file: 'erp.xlsx' } },
          }),
        }),
      ],
      async compute(c) {
        await (await c.db()).run('CREATE TABLE revenue_per_product AS SELECT 1 AS x');
        return { kind: 'table' };
      },
    });
    await expect(
      runStage(defineStage({ stage: 'analytics', assets: [a] }), await mergedEvent(store, dir), ctx),
    ).rejects.toMatchObject({
      code: 'BN_ERR_INPUT_CORRUPT',
      message: 'erp.xlsx is corrupt',
      location: { file: 'erp.xlsx' },
    });
  });

  it('stages a published table as its CSV export beside it, and says where for the publisher', async () => {
    const { ctx, dir } = await setup();
    const sqlDir = await mkdtemp(join(tmpdir(), 'bn-sql-'));
    dirs.push(sqlDir);
    await writeFile(join(sqlDir, 'export_it.sql'), 'SELECT * FROM merged_with_revenue ORDER BY product_id');
    const m = defineAsset({
      key: 'merged_with_revenue',
      deps: ['erp_clean'],
      kind: 'table',
      module: new URL(`file://${sqlDir}/x.ts`).href,
      description: 'm',
      publishAs: 'merged_with_revenue.csv',
      publishSql: 'export_it',
      async compute(c) {
        await (await c.db()).run('CREATE TABLE merged_with_revenue AS SELECT 2 AS product_id UNION ALL SELECT 1');
        return { kind: 'table' };
      },
    });
    const okEvent = makeEvent('validated', {
      runId: 'run-1',
      partition: '2026-11',
      materializations: {},
      checks: [],
      payload: {},
    });
    const noDeps = defineAsset({
      ...m,
      key: 'merged_with_revenue',
      deps: [],
      kind: 'table',
      module: new URL(`file://${sqlDir}/x.ts`).href,
      description: 'm',
      publishAs: 'merged_with_revenue.csv',
      publishSql: 'export_it',
      compute: m.compute,
    });
    const [out] = await runStage(defineStage({ stage: 'merge', assets: [noDeps] }), okEvent, ctx);
    const pub = out!.materializations.merged_with_revenue!.metadata.publish as { as: string; location: string };
    expect(pub).toEqual({ as: 'merged_with_revenue.csv', location: 'staging/2026-11/run-1/merged_with_revenue.csv' });
    expect(await readFile(join(dir, pub.location), 'utf8')).toBe('\ufeffproduct_id\n1\n2\n');
  });
});
