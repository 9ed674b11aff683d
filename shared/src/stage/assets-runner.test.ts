import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
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
import type { Db } from '../duck/index.js';
import type { BottleneckError } from '../errors/index.js';
import { makeEvent, type CheckResult, type Materialization, type PipelineEvent } from '../events/index.js';
import { cleanupTestContexts, testContext } from '../testing/context.js';
import { checkResultOf, runStage } from './assets-runner.js';
import { silentLogger, type StageContext } from './context.js';
import type { AssetIO, DuckScope, PersistRequest } from './io.js';

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
    expect(out!.checks[0]).toMatchObject({ passed: false });
    expect(out!.checks[0]!.metadata).toStrictEqual({ productIds: [2, 3] });
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

/**
 * An IO manager and a scope that record every call in order, with a connection that counts two
 * rows: the runner's own sequence (scope, loads, persists, release) is what these tests read.
 */
function recording() {
  const calls: string[] = [];
  const persisted: PersistRequest[] = [];
  const db = {
    count: async () => 2,
    columns: async () => [{ name: 'x', type: 'INTEGER' }],
    run: async () => undefined,
  } as unknown as Db;
  const scope = {
    connect: async () => {
      calls.push('connect');
      return db;
    },
  } as unknown as DuckScope;
  const io: AssetIO = {
    openScope: async () => {
      calls.push('openScope');
      return scope;
    },
    closeScope: async (s) => {
      calls.push(s === scope ? 'closeScope' : 'closeScope of another scope');
    },
    load: async (key, m) => {
      calls.push(`load ${key}`);
      return { materialization: m };
    },
    persist: async (r) => {
      calls.push(`persist ${r.asset.key}`);
      persisted.push(r);
      return {
        location: `staging/2026-11/run-1/${r.asset.key}`,
        dataVersion: `v-${r.asset.key}`,
        ...(r.path ? { bytes: 7 } : {}),
      };
    },
  };
  const store = {
    getToFile: async (key: string) => ({
      path: `/copies/${key}`,
      release: async () => {
        calls.push(`release ${key}`);
      },
    }),
  };
  return { calls, persisted, db, io, store };
}

async function fakeContext(rec: ReturnType<typeof recording>, progress?: StageContext['progress']) {
  const root = await mkdtemp(join(tmpdir(), 'bn-runner-'));
  dirs.push(root);
  const ctx = {
    io: rec.io,
    store: rec.store,
    workDir: root,
    now: () => new Date('2026-11-26T10:00:00Z'),
    log: silentLogger,
    ...(progress ? { progress } : {}),
  } as unknown as StageContext & { io: AssetIO };
  return { ctx, root };
}

const upstreamMerged = mat('staging/2026-11/run-1/merged_with_revenue.parquet');
function mat(location: string): Materialization {
  return { location, dataVersion: 'v0', metadata: { rowCount: 3, durationMs: 1 } };
}
const merged = (extra: Partial<PipelineEvent> = {}) =>
  makeEvent('merged', {
    runId: 'run-1',
    partition: '2026-11',
    materializations: { merged_with_revenue: upstreamMerged },
    checks: [],
    payload: {},
    ...extra,
  } as never);
const passing = () => ({ passed: true });

describe('StageRun (step 3) against a recording IO manager', () => {
  it('hands an asset what its stage made before it (materialization, local file, lineage), persists each by kind, and releases its scratch space', async () => {
    const rec = recording();
    const seen: { assets: string[]; checks: string[] } = { assets: [], checks: [] };
    const { ctx, root } = await fakeContext(rec, {
      onAsset: (p) => seen.assets.push(`${p.asset} ${p.runId}`),
      onCheck: (c) => seen.checks.push(`${c.asset}.${c.check} ${c.runId}`),
    });
    const event = merged({
      checks: [
        checkResultOf('merged_with_revenue', warnCheck('earlier', 'from merge', { run: passing }), { passed: true }),
      ],
    });
    let scratch = '';
    const report = defineAsset({
      key: 'revenue_report',
      deps: ['merged_with_revenue'],
      kind: 'file',
      file: 'r.txt',
      module,
      description: 'a file',
      checks: [warnCheck('readable', 'reads', { run: passing })],
      async compute(c) {
        scratch = c.workDir;
        const path = join(c.workDir, 'r.txt');
        await writeFile(path, 'report');
        return { kind: 'file', path, metadata: { lines: 1 } };
      },
    });
    const got: Record<string, unknown> = {};
    const premium = defineAsset({
      key: 'premium_wines',
      deps: ['revenue_report'],
      kind: 'table',
      module,
      description: 'reads the report',
      async compute(c) {
        got.input = await c.input('revenue_report');
        got.inputFile = await c.inputFile('revenue_report');
        got.upstream = c.materialization('merged_with_revenue');
        got.notAFile = await c.inputFile('merged_with_revenue').catch((e: Error) => e.message);
        const l = c.lineage();
        got.lineage = {
          // wine_price_zscores runs alongside: it may or may not be there yet.
          materializations: Object.keys(l.materializations).filter((k) => k !== 'wine_price_zscores'),
          checks: l.checks.map((r) => r.check),
        };
        got.fetched = await c.fetch('incoming/2026-11/erp.xlsx');
        return { kind: 'table', metadata: { rowCount: 5, columns: [] } };
      },
    });
    const zscores = table('wine_price_zscores', ['merged_with_revenue'], 'CREATE TABLE wine_price_zscores AS SELECT 1');
    const before = performance.now();
    // Declared before what it reads: the runner orders the stage's assets.
    const [out] = await runStage(defineStage({ stage: 'analytics', assets: [premium, report, zscores] }), event, ctx);
    const elapsed = performance.now() - before;

    const file = out!.materializations.revenue_report!;
    expect(file).toStrictEqual({
      location: 'staging/2026-11/run-1/revenue_report',
      dataVersion: 'v-revenue_report',
      metadata: { lines: 1, bytes: 7, durationMs: expect.any(Number) },
    });
    expect(out!.materializations.premium_wines!.metadata).toStrictEqual({
      rowCount: 5,
      columns: [],
      durationMs: expect.any(Number),
    });
    expect(out!.materializations.wine_price_zscores!.metadata).toStrictEqual({
      rowCount: 2,
      columns: [{ name: 'x', type: 'INTEGER' }],
      durationMs: expect.any(Number),
    });
    for (const m of Object.values(out!.materializations))
      expect(m.metadata.durationMs).toBeLessThanOrEqual(elapsed + 1);

    expect(got).toStrictEqual({
      input: { materialization: file, path: join(scratch, 'r.txt') },
      inputFile: join(scratch, 'r.txt'),
      upstream: upstreamMerged,
      notAFile: 'asset merged_with_revenue is not a file: it has no local path',
      lineage: { materializations: ['merged_with_revenue', 'revenue_report'], checks: ['earlier', 'readable'] },
      fetched: '/copies/incoming/2026-11/erp.xlsx',
    });

    // A file is persisted from its path, a table through a connection of the scope (the asset's own, or one opened for it).
    const req = (key: string) => rec.persisted.find((r) => r.asset.key === key)!;
    expect(req('revenue_report')).toStrictEqual({
      asset: report,
      run: { runId: 'run-1', partition: '2026-11', startedAt: event.ts },
      metadata: { lines: 1 },
      workDir: scratch,
      path: join(scratch, 'r.txt'),
    });
    expect(req('premium_wines').db).toBe(rec.db);
    expect(Object.keys(req('premium_wines')).sort()).toEqual(['asset', 'db', 'metadata', 'run', 'workDir']);
    expect(req('wine_price_zscores').db).toBe(rec.db);
    expect(rec.calls.filter((c) => c === 'connect')).toHaveLength(2);
    expect(rec.calls.filter((c) => c.startsWith('load'))).toEqual(['load merged_with_revenue']);
    expect(rec.calls.slice(0, 1)).toEqual(['openScope']);
    expect(rec.calls.slice(-2)).toEqual(['release incoming/2026-11/erp.xlsx', 'closeScope']);

    expect(scratch.startsWith(join(root, 'analytics-'))).toBe(true);
    expect(existsSync(scratch)).toBe(false);
    expect(seen.assets.sort()).toEqual(['premium_wines run-1', 'revenue_report run-1', 'wine_price_zscores run-1']);
    expect(seen.checks).toEqual(['revenue_report.readable run-1']);
  });

  it('stops what reads a failed asset, and still releases the copies, the scope and the scratch space', async () => {
    const rec = recording();
    const { ctx, root } = await fakeContext(rec);
    let readerRan = false;
    const report = defineAsset({
      key: 'revenue_report',
      deps: ['merged_with_revenue'],
      kind: 'file',
      file: 'r.txt',
      module,
      description: 'fails',
      async compute(c) {
        await mkdir(join(c.workDir, 'deep'));
        await writeFile(join(c.workDir, 'deep', 'half.txt'), 'half');
        await c.fetch('incoming/2026-11/erp.xlsx');
        throw new TypeError('report broke');
      },
    });
    const premium = defineAsset({
      key: 'premium_wines',
      deps: ['revenue_report'],
      kind: 'table',
      module,
      description: 'reads it',
      async compute() {
        readerRan = true;
        return { kind: 'table' };
      },
    });
    await expect(
      // The reader declared first: the failure reported is still the asset that failed, not the one it stopped.
      runStage(defineStage({ stage: 'analytics', assets: [premium, report] }), merged(), ctx),
    ).rejects.toMatchObject({
      code: 'BN_ERR_ASSET_FAILED',
      asset: 'revenue_report',
      message: 'asset revenue_report (stage analytics) failed: report broke',
    });
    expect(readerRan).toBe(false);
    expect(rec.calls.slice(-2)).toEqual(['release incoming/2026-11/erp.xlsx', 'closeScope']);
    expect(await readdir(root)).toEqual([]);
  });

  it('tells an asset that reads an asset of its stage that failed, outside its declared deps, that it was not materialized', async () => {
    const rec = recording();
    const { ctx } = await fakeContext(rec);
    const reader = defineAsset({
      key: 'premium_wines',
      deps: ['merged_with_revenue'],
      kind: 'table',
      module,
      description: 'reads ordinary_wines without declaring it',
      async compute(c) {
        await c.input('ordinary_wines');
        return { kind: 'table' };
      },
    });
    const failing = defineAsset({
      key: 'ordinary_wines',
      deps: ['merged_with_revenue'],
      kind: 'table',
      module,
      description: 'fails',
      compute: () => Promise.reject(new TypeError('ordinary broke')),
    });
    await expect(
      runStage(defineStage({ stage: 'analytics', assets: [reader, failing] }), merged(), ctx),
    ).rejects.toMatchObject({
      asset: 'premium_wines',
      message: 'asset premium_wines (stage analytics) failed: asset ordinary_wines was not materialized',
    });
  });

  it('fails with the error of the scope it could not open, having made nothing, and removes its scratch space', async () => {
    const rec = recording();
    const { ctx, root } = await fakeContext(rec);
    let ran = false;
    ctx.io.openScope = () => Promise.reject(new Error('no DuckDB'));
    const a = defineAsset({
      key: 'premium_wines',
      deps: ['merged_with_revenue'],
      kind: 'table',
      module,
      description: 'p',
      async compute() {
        ran = true;
        return { kind: 'table' };
      },
    });
    await expect(runStage(defineStage({ stage: 'analytics', assets: [a] }), merged(), ctx)).rejects.toThrow(
      'no DuckDB',
    );
    expect(ran).toBe(false);
    expect(rec.calls).toEqual([]);
    expect(await readdir(root)).toEqual([]);
  });

  it('a check that throws (or has neither sql nor run) fails its asset, is not reported, and stops what reads the asset', async () => {
    const rec = recording();
    const checks: string[] = [];
    const { ctx } = await fakeContext(rec, { onCheck: (c) => checks.push(c.check) });
    let readerRan = false;
    const odd = { name: 'odd', description: 'no way to run', severity: 'WARN', blocking: false, deps: [] } as never;
    const a = defineAsset({
      key: 'premium_wines',
      deps: ['merged_with_revenue'],
      kind: 'table',
      module,
      description: 'p',
      checks: [warnCheck('fine', 'passes', { run: passing }), odd],
      compute: () => Promise.resolve({ kind: 'table', metadata: { rowCount: 1, columns: [] } }),
    });
    const reader = defineAsset({
      key: 'revenue_report',
      deps: ['premium_wines'],
      kind: 'file',
      file: 'r.txt',
      module,
      description: 'r',
      async compute() {
        readerRan = true;
        return { kind: 'file', path: '/nonexistent' };
      },
    });
    await expect(
      runStage(defineStage({ stage: 'analytics', assets: [a, reader] }), merged(), ctx),
    ).rejects.toMatchObject({
      code: 'BN_ERR_ASSET_FAILED',
      asset: 'premium_wines',
      message: 'asset premium_wines (stage analytics) failed: check odd has neither sql nor run',
      details: { checks: [] },
    });
    expect(readerRan).toBe(false);
    expect(checks).toEqual(['fine']);
  });

  it('skips a check whose asset of the same stage failed: the failure is that asset, nothing else', async () => {
    const rec = recording();
    const checks: string[] = [];
    const { ctx } = await fakeContext(rec, { onCheck: (c) => checks.push(c.check) });
    const a = defineAsset({
      key: 'premium_wines',
      deps: ['merged_with_revenue'],
      kind: 'table',
      module,
      description: 'p',
      checks: [errorCheck('against_ordinary', 'reads ordinary_wines', { deps: ['ordinary_wines'], run: passing })],
      compute: () => Promise.resolve({ kind: 'table', metadata: { rowCount: 1, columns: [] } }),
    });
    const failing = defineAsset({
      key: 'ordinary_wines',
      deps: ['merged_with_revenue'],
      kind: 'table',
      module,
      description: 'fails',
      compute: () => Promise.reject(new TypeError('ordinary broke')),
    });
    const err = await runStage(defineStage({ stage: 'analytics', assets: [a, failing] }), merged(), ctx).catch(
      (e: BottleneckError) => e,
    );
    expect(err).toMatchObject({
      code: 'BN_ERR_ASSET_FAILED',
      asset: 'ordinary_wines',
      message: 'asset ordinary_wines (stage analytics) failed: ordinary broke',
      details: { checks: [] },
    });
    expect(checks).toEqual([]);
  });

  it('takes an object result as the materialization itself (nothing persisted), timed', async () => {
    const rec = recording();
    const { ctx } = await fakeContext(rec);
    const made: Materialization = {
      location: 'extracts/2026-11/_manifest.json',
      dataVersion: 'v9',
      // What compute says it took is not what the runner measured.
      metadata: { files: 2, durationMs: -1 },
    };
    const sink = defineAsset({
      key: 'extracts',
      deps: ['premium_wines'],
      kind: 'sink',
      file: '_manifest.json',
      module,
      description: 'x',
      compute: () => Promise.resolve({ kind: 'object', materialization: made }),
    });
    const analysed = makeEvent('analysed', {
      runId: 'run-1',
      partition: '2026-11',
      materializations: { premium_wines: mat('staging/2026-11/run-1/premium_wines.parquet') },
      checks: [],
      payload: {},
    });
    const before = performance.now();
    const publisher = defineStage({
      stage: 'publisher',
      assets: [sink],
      payload: () => ({ manifestKey: made.location, files: [] }),
    });
    const [out] = await runStage(publisher, analysed, ctx);
    const elapsed = performance.now() - before;
    const m = out!.materializations.extracts!;
    expect(m).toStrictEqual({ ...made, metadata: { files: 2, durationMs: expect.any(Number) } });
    expect(m.metadata.durationMs).toBeGreaterThanOrEqual(0);
    expect(m.metadata.durationMs).toBeLessThanOrEqual(elapsed + 1);
    expect(rec.persisted).toEqual([]);
  });

  it('refuses a compute that returns another kind than its asset declares', async () => {
    const { ctx } = await fakeContext(recording());
    const a = defineAsset({
      key: 'premium_wines',
      deps: ['merged_with_revenue'],
      kind: 'table',
      module,
      description: 'p',
      compute: () => Promise.resolve({ kind: 'file', path: '/tmp/p.csv' }),
    });
    await expect(runStage(defineStage({ stage: 'analytics', assets: [a] }), merged(), ctx)).rejects.toMatchObject({
      code: 'BN_ERR_ASSET_FAILED',
      message:
        'asset premium_wines (stage analytics) failed: asset premium_wines is a table but compute returned a file',
    });
  });

  it('refuses, before anything runs, an event with nothing published for a publishing sink', async () => {
    const rec = recording();
    const { ctx } = await fakeContext(rec);
    const sink = defineAsset({
      key: 'extracts',
      deps: 'published',
      kind: 'sink',
      file: '_manifest.json',
      module,
      description: 'x',
      compute: () => Promise.reject(new Error('not run')),
    });
    const analysed = makeEvent('analysed', {
      runId: 'run-1',
      partition: '2026-11',
      materializations: { premium_wines: mat('staging/2026-11/run-1/premium_wines.parquet') },
      checks: [],
      payload: {},
    });
    await expect(runStage(defineStage({ stage: 'publisher', assets: [sink] }), analysed, ctx)).rejects.toMatchObject({
      code: 'BN_ERR_EVENT_INVALID',
      message: 'the analysed event of run run-1 carries no published asset (publishAs) for extracts to publish',
    });
    expect(rec.calls).toEqual([]);
  });

  it('runs with no progress listener, or one that listens to nothing, and reports the expectations check to one that listens', async () => {
    const a = defineAsset({
      key: 'premium_wines',
      deps: ['merged_with_revenue'],
      kind: 'table',
      module,
      description: 'p',
      checks: [warnCheck('fine', 'passes', { run: passing })],
      compute: () => Promise.resolve({ kind: 'table', metadata: { rowCount: 1, columns: [] } }),
    });
    const stage = defineStage({ stage: 'analytics', assets: [a] });
    const event = merged({ expectations: { rowCounts: { premium_wines: 1 } } });
    for (const progress of [undefined, {}]) {
      const { ctx } = await fakeContext(recording(), progress);
      const [out] = await runStage(stage, event, ctx);
      expect(out!.checks.map((c) => c.check)).toEqual(['fine', 'matches_expectations']);
    }
    const heard: (CheckResult & { runId: string })[] = [];
    const { ctx } = await fakeContext(recording(), { onCheck: (c) => heard.push(c) });
    await runStage(stage, event, ctx);
    expect(heard.map((c) => [c.check, c.passed, c.runId])).toEqual([
      ['fine', true, 'run-1'],
      ['matches_expectations', true, 'run-1'],
    ]);
  });

  it("refuses a cycle among the stage's assets, naming it", async () => {
    const { ctx } = await fakeContext(recording());
    const a = table('premium_wines', ['ordinary_wines'], 'SELECT 1');
    const b = table('ordinary_wines', ['premium_wines'], 'SELECT 1');
    await expect(runStage(defineStage({ stage: 'analytics', assets: [a, b] }), merged(), ctx)).rejects.toThrow(
      new TypeError('cycle in the asset graph: premium_wines -> ordinary_wines -> premium_wines'),
    );
  });
});
