import { afterAll, describe, expect, it } from 'vitest';
import { makeEvent } from '@bottleneck/shared/events/index';
import { readCurrent, readPublished } from '@bottleneck/shared/published';
import { assetStageHandler } from '@bottleneck/shared/stage/handler';
import { cleanupTestContexts, testContext } from '@bottleneck/shared/testing/context';
import { subscribeStages } from '@bottleneck/shared/wiring';
import { toyGraph } from './fixtures/toy-graph/assets.js';

afterAll(cleanupTestContexts);

/** Runs the toy graph in this process for one month, as `bottleneck run` runs the real one. */
async function runToy(o: { sql?: string } = {}) {
  const { ctx, store, bus } = await testContext({ now: () => new Date('2026-11-26T10:00:00Z') });
  const handlers = toyGraph(o).map(assetStageHandler);
  await subscribeStages(bus, handlers, ctx);
  const trigger = makeEvent('trigger', {
    runId: 'toy-1',
    partition: '2026-11',
    materializations: {},
    checks: [],
    payload: { source: 'cli' },
  });
  await bus.publish(trigger);
  await bus.idle();
  return { store, events: bus.messages().map((m) => m.event), handlers };
}

describe('adding an asset (shared/src/ARCHITECTURE.md), on a toy graph in one process', () => {
  it('computes the new asset after its upstream, runs its check, and the publisher publishes it with no change of its own', async () => {
    const { store, events, handlers } = await runToy();
    // Subscriptions come from the declarations: the new asset reads clean's gate, the publisher what analytics hands over.
    expect(handlers.map((h) => [h.stage, h.consumes])).toEqual([
      ['clean', ['trigger']],
      ['analytics', ['validated']],
      ['publisher', ['analysed']],
    ]);
    expect(events.map((e) => e.type)).toEqual(['trigger', 'cleaned', 'validated', 'analysed', 'published']);
    const analysed = events.find((e) => e.type === 'analysed')!;
    expect(analysed.materializations.revenue_per_product?.metadata).toMatchObject({ rowCount: 3 });
    expect(analysed.checks).toMatchObject([
      { asset: 'revenue_per_product', check: 'bands_cover_every_product', passed: true, blocking: true },
    ]);
    const current = await readCurrent(store, '2026-11');
    expect(current?.files.map((f) => f.name)).toEqual(['price_bands.csv']);
    // Published CSVs start with a byte-order mark, so Excel reads them as UTF-8.
    expect((await readPublished(store, '2026-11', 'price_bands.csv')).toString()).toBe(
      '\ufeffband,products\n10 to 30,2\n30 and over,1\nunder 10,1\n',
    );
  });

  it("stops before the publisher when the new asset's blocking check fails: one failed event, nothing published", async () => {
    // A bug in the new asset's SQL: the cheapest band is lost.
    const { store, events } = await runToy({
      sql: `CREATE OR REPLACE TABLE revenue_per_product AS
            SELECT CASE WHEN price < 30 THEN '10 to 30' ELSE '30 and over' END AS band, count(*)::INTEGER AS products
            FROM web_clean WHERE price >= 10 GROUP BY band`,
    });
    expect(events.map((e) => e.type)).toEqual(['trigger', 'cleaned', 'validated', 'failed']);
    expect(events.at(-1)).toMatchObject({
      id: 'toy-1.failed.analytics',
      payload: {
        code: 'BN_ERR_CHECK_FAILED',
        message:
          'blocking check failed in stage analytics: revenue_per_product.bands_cover_every_product: 3 products banded, 4 products',
      },
    });
    expect(await readCurrent(store, '2026-11')).toBeNull();
  });
});
