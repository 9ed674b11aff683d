import { afterAll, describe, expect, it } from 'vitest';
import type { FolderStore } from '@bottleneck/shared/adapters/folder-store';
import { makeEvent, type Materialization, type PipelineEvent } from '@bottleneck/shared/events/index';
import { STAGE_DEFINITIONS } from '@bottleneck/shared/assets/graph';
import { layout } from '@bottleneck/shared/keys';
import { readCurrent, readPublished } from '@bottleneck/shared/published';
import { runStage } from '@bottleneck/shared/stage/assets-runner';
import { cleanupTestContexts, testContext } from '@bottleneck/shared/testing/context';
import { KEEP_PUBLISHED_RUNS, publisherStage } from './index.js';

afterAll(cleanupTestContexts);

async function setup() {
  const { ctx, store } = await testContext();
  await store.put(layout.incoming('2026-11', 'erp'), 'erp bytes');
  return { ctx, store: store as FolderStore };
}

/** An analysed event of a run whose four outputs are staged, its start at `startedAt`. */
async function analysed(store: FolderStore, runId: string, startedAt: string, body = runId): Promise<PipelineEvent> {
  const mats: Record<string, Materialization> = {};
  for (const [key, name] of [
    ['merged_with_revenue', 'merged_with_revenue.csv'],
    ['premium_wines', 'premium_wines.csv'],
    ['ordinary_wines', 'ordinary_wines.csv'],
    ['revenue_report', 'revenue_per_product.xlsx'],
  ] as const) {
    const put = await store.put(layout.staging('2026-11', runId, name), `${name} of ${body}\n`);
    mats[key] = {
      location: put.key,
      dataVersion: put.sha256,
      metadata: { durationMs: 1, publish: { as: name, location: put.key } },
    };
  }
  const erp = (await store.head(layout.incoming('2026-11', 'erp')))!;
  mats.raw_erp = { location: erp.key, dataVersion: 'x', metadata: { durationMs: 1, etag: erp.etag } };
  return makeEvent('analysed', {
    runId,
    partition: '2026-11',
    materializations: mats,
    checks: [],
    payload: {},
    runStartedAt: startedAt,
  });
}

describe('the publisher', () => {
  it("writes the run's files under their own prefix, then the manifest, then switches the pointer readers follow", async () => {
    const { ctx, store } = await setup();
    const [published] = await runStage(publisherStage, await analysed(store, 'run-a', '2026-11-15T08:00:00.000Z'), ctx);
    expect(published).toMatchObject({
      type: 'published',
      id: 'run-a.published',
      payload: { manifestKey: 'extracts/2026-11/run-a/_manifest.json', pointerKey: 'extracts/2026-11/_current.json' },
    });
    expect(await readCurrent(store, '2026-11')).toMatchObject({ runId: 'run-a', prefix: 'extracts/2026-11/run-a/' });
    expect((await readPublished(store, '2026-11', 'premium_wines.csv')).toString()).toBe(
      'premium_wines.csv of run-a\n',
    );
    expect((await store.list('extracts/2026-11/')).map((o) => o.key)).toEqual([
      'extracts/2026-11/_current.json',
      'extracts/2026-11/run-a/_manifest.json',
      'extracts/2026-11/run-a/merged_with_revenue.csv',
      'extracts/2026-11/run-a/ordinary_wines.csv',
      'extracts/2026-11/run-a/premium_wines.csv',
      'extracts/2026-11/run-a/revenue_per_product.xlsx',
    ]);
  });

  it('lets a later run replace the set, never an earlier one (superseded), and keeps the sets a reader may be reading', async () => {
    const { ctx, store } = await setup();
    await runStage(publisherStage, await analysed(store, 'run-b', '2026-11-15T09:00:00.000Z'), ctx);
    const late = await analysed(store, 'run-a', '2026-11-15T08:00:00.000Z');
    await expect(runStage(publisherStage, late, ctx)).rejects.toMatchObject({
      code: 'BN_ERR_RUN_SUPERSEDED',
      retriable: false,
      message:
        'run run-a of 2026-11 is not published: run run-b, which started later (2026-11-15T09:00:00.000Z), published the month already',
    });
    expect((await readCurrent(store, '2026-11'))!.runId).toBe('run-b');
    expect(await store.head('extracts/2026-11/run-a/premium_wines.csv')).toBeNull();
    // The same run again (a redelivery) publishes the same set again.
    await runStage(publisherStage, await analysed(store, 'run-b', '2026-11-15T09:00:00.000Z'), ctx);
    for (let i = 0; i < 5; i++)
      await runStage(publisherStage, await analysed(store, `run-c${i}`, `2026-11-16T0${i}:00:00.000Z`), ctx);
    const runs = [...new Set((await store.list('extracts/2026-11/')).map((o) => o.key.split('/')[2]!))]
      .filter((r) => r !== '_current.json')
      .sort();
    expect(runs).toEqual(['run-c1', 'run-c2', 'run-c3', 'run-c4']);
    expect(runs).toHaveLength(KEEP_PUBLISHED_RUNS + 1);
  });

  it('does not publish a run whose input files changed since it read them', async () => {
    const { ctx, store } = await setup();
    const e = await analysed(store, 'run-a', '2026-11-15T08:00:00.000Z');
    await store.put(layout.incoming('2026-11', 'erp'), 'a newer erp.xlsx');
    await expect(runStage(publisherStage, e, ctx)).rejects.toMatchObject({
      code: 'BN_ERR_RUN_SUPERSEDED',
      message:
        'run run-a of 2026-11 is not published: incoming/2026-11/erp.xlsx changed since this run read it; the run of the new version publishes the month',
    });
    expect(await readCurrent(store, '2026-11')).toBeNull();
  });

  it('publishes a run again over itself, even when its redelivered event says another start (no runStartedAt: its ts)', async () => {
    const { ctx, store } = await setup();
    const first = await analysed(store, 'run-a', '2026-11-15T08:00:00.000Z');
    const again = JSON.parse(JSON.stringify(first)) as PipelineEvent;
    delete first.runStartedAt;
    first.ts = '2026-11-15T09:00:00.000Z';
    delete again.runStartedAt;
    again.ts = '2026-11-15T08:30:00.000Z';
    await runStage(publisherStage, first, ctx);
    // An earlier start than the pointer's, but the pointer is this run's own: not superseded.
    await runStage(publisherStage, again, ctx);
    expect(await readCurrent(store, '2026-11')).toMatchObject({
      runId: 'run-a',
      runStartedAt: '2026-11-15T08:30:00.000Z',
    });
  });

  it('does not publish a run whose input file was deleted since it read it', async () => {
    const { ctx, store } = await setup();
    const e = await analysed(store, 'run-a', '2026-11-15T08:00:00.000Z');
    await store.delete(layout.incoming('2026-11', 'erp'));
    await expect(runStage(publisherStage, e, ctx)).rejects.toMatchObject({
      code: 'BN_ERR_RUN_SUPERSEDED',
      stage: 'publisher',
      asset: 'extracts',
      message:
        'run run-a of 2026-11 is not published: incoming/2026-11/erp.xlsx changed since this run read it; the run of the new version publishes the month',
    });
    expect(await readCurrent(store, '2026-11')).toBeNull();
  });

  it('fails, publishing nothing, when an asset the graph publishes comes without its published form', async () => {
    const { ctx, store } = await setup();
    const graphPublisher = STAGE_DEFINITIONS.find((s) => s.stage === 'publisher')!;
    const e = await analysed(store, 'run-a', '2026-11-15T08:00:00.000Z');
    delete e.materializations.premium_wines!.metadata.publish;
    await expect(runStage(graphPublisher, e, ctx)).rejects.toMatchObject({
      code: 'BN_ERR_ASSET_FAILED',
      message: 'asset extracts (stage publisher) failed: asset premium_wines has no published form (publishAs)',
    });
    expect(await store.list('extracts/2026-11/')).toEqual([]);
  });

  it('prunes the oldest runs by run id, not by the order their keys list in', async () => {
    const { ctx, store } = await setup();
    // Run ids that sort one way and list another: "run-a-1/..." lists before "run-a/...".
    const ids = ['run-a', 'run-a-1', 'run-a-2', 'run-a-3', 'run-a-4'];
    for (const [i, id] of ids.entries())
      await runStage(publisherStage, await analysed(store, id, `2026-11-15T0${String(i)}:00:00.000Z`), ctx);
    const runs = [...new Set((await store.list('extracts/2026-11/')).map((o) => o.key.split('/')[2]!))]
      .filter((r) => r !== '_current.json')
      .sort();
    expect(runs).toEqual(['run-a-1', 'run-a-2', 'run-a-3', 'run-a-4']);
  });
});
