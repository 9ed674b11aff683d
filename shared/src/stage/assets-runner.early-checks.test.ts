import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as tick } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { defineAsset, defineStage, errorCheck, type AssetDefinition } from '../assets/define.js';
import type { Db } from '../duck/index.js';
import type { BottleneckError } from '../errors/index.js';
import { makeEvent } from '../events/index.js';
import { cleanupTestContexts, testContext } from '../testing/context.js';
import { runStage } from './assets-runner.js';
import type { DuckScope, PersistRequest } from './io.js';

const dirs: string[] = [];
afterAll(async () => {
  await cleanupTestContexts();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/**
 * A stage of one table, wine_price_zscores (three rows), checked by SQL: `three_rows` passes only while the
 * table has its three rows. The IO manager's persist of the table is held until the check's query
 * has answered (or 20,000 turns of the event loop went by), then adds a fourth row before persisting:
 * a check run beside the persist saw three rows, one run after it four.
 */
async function setup(
  checksBesidePersist: boolean,
  checkSql = 'SELECT count(*) = 3 AS passed, count(*) AS n_rows FROM wine_price_zscores',
) {
  const sqlDir = await mkdtemp(join(tmpdir(), 'bn-early-checks-'));
  dirs.push(sqlDir);
  await writeFile(join(sqlDir, 'check_three_rows.sql'), checkSql);
  const asset: AssetDefinition = defineAsset({
    key: 'wine_price_zscores',
    deps: [],
    kind: 'table',
    module: pathToFileURL(join(sqlDir, 'asset.js')).href,
    description: 'wine_price_zscores',
    checks: [
      errorCheck('three_rows', 'three rows', { sql: 'check_three_rows', found: (m) => `${String(m.nRows)} rows` }),
    ],
    async compute(ctx) {
      await (
        await ctx.db()
      ).run('CREATE TABLE wine_price_zscores AS SELECT range::INTEGER AS product_id FROM range(3)');
      return { kind: 'table' };
    },
  });
  const { ctx } = await testContext({ now: () => new Date('2026-11-26T10:00:00Z'), checksBesidePersist });
  const queries: string[] = [];
  let answered!: () => void;
  const checkAnswered = new Promise<void>((r) => (answered = r));
  const openScope = ctx.io.openScope.bind(ctx.io);
  ctx.io.openScope = async (run) => {
    const scope: DuckScope = await openScope(run);
    const connect = scope.connect.bind(scope);
    scope.connect = async () => {
      const db: Db = await connect();
      const one = db.one.bind(db);
      db.one = async (sql, params) => {
        const row = await one(sql, params);
        queries.push(sql);
        if (sql === checkSql) answered();
        return row;
      };
      return db;
    };
    return scope;
  };
  const persist = ctx.io.persist.bind(ctx.io);
  let openedBy = '';
  ctx.io.persist = async (r: PersistRequest) => {
    openedBy = await Promise.race([
      checkAnswered.then(() => 'the check'),
      (async () => {
        // Bounded only where no check will come (the services' order): turns pass quickly while the
        // check's query waits for DuckDB's threads, so 200 of them lost the race at load 5-12.
        for (let i = 0; i < 20_000; i++) await tick();
        return 'turns';
      })(),
    ]);
    await r.db!.run('INSERT INTO wine_price_zscores VALUES (99)');
    return persist(r);
  };
  const trigger = makeEvent('merged', {
    runId: 'run-1',
    partition: '2026-11',
    materializations: {},
    checks: [],
    payload: {},
  } as never);
  return {
    ctx,
    stage: defineStage({ stage: 'analytics', assets: [asset] }),
    trigger,
    queries,
    openedBy: () => openedBy,
  };
}

describe('runStage with checksBesidePersist', () => {
  it("runs a table's SQL checks while it is persisted, and reports them with the materialization", async () => {
    const s = await setup(true);
    const [out] = await runStage(s.stage, s.trigger, s.ctx);
    expect(s.openedBy()).toBe('the check');
    expect(out!.checks).toEqual([
      expect.objectContaining({
        asset: 'wine_price_zscores',
        check: 'three_rows',
        passed: true,
        metadata: { nRows: '3' },
      }),
    ]);
    expect(out!.materializations.wine_price_zscores!.location).toMatch(/wine_price_zscores\.parquet$/);
  });

  it('without it, runs them after the persist (the services)', async () => {
    const s = await setup(false);
    const err = await runStage(s.stage, s.trigger, s.ctx).catch((e: BottleneckError) => e);
    expect(s.openedBy()).toBe('turns');
    expect(err).toMatchObject({ code: 'BN_ERR_CHECK_FAILED', message: expect.stringContaining('4 rows') });
  });

  it('a check that fails beside the persist still fails the stage, with what it found', async () => {
    const s = await setup(true, 'SELECT count(*) = 2 AS passed, count(*) AS n_rows FROM wine_price_zscores');
    const err = await runStage(s.stage, s.trigger, s.ctx).catch((e: BottleneckError) => e);
    expect(s.openedBy()).toBe('the check');
    expect(err).toMatchObject({
      code: 'BN_ERR_CHECK_FAILED',
      message: 'blocking check failed in stage analytics: wine_price_zscores.three_rows: 3 rows',
    });
  });

  it('a check whose query fails beside the persist fails its asset as it would after it', async () => {
    const s = await setup(true, 'SELECT count(*) = 3 AS passed FROM no_such_table');
    const err = await runStage(s.stage, s.trigger, s.ctx).catch((e: BottleneckError) => e);
    expect(err).toMatchObject({ asset: 'wine_price_zscores', message: expect.stringContaining('no_such_table') });
  });
});
