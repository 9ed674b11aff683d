import { createHash } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FolderStore } from '@bottleneck/shared/adapters/folder-store';
import { makeEvent, type Materialization, type PipelineEvent } from '@bottleneck/shared/events/index';
import { layout } from '@bottleneck/shared/keys';
import type { ObjectStore } from '@bottleneck/shared/ports/object-store';
import { readCurrent } from '@bottleneck/shared/published';
import { assetStageHandler } from '@bottleneck/shared/stage/handler';
import { bindStage, doneMarkerKey } from '@bottleneck/shared/stage/runner';
import { cleanupTestContexts, testContext } from '@bottleneck/shared/testing/context';
import { CallLog, Crash, recordingBus, recordingStore } from '@bottleneck/shared/testing/recording';
import { publisherStage } from './index.js';

afterAll(cleanupTestContexts);

const P = '2026-11';
const OUTPUTS = [
  ['merged_with_revenue', 'merged_with_revenue.csv'],
  ['premium_wines', 'premium_wines.csv'],
  ['ordinary_wines', 'ordinary_wines.csv'],
  ['revenue_report', 'revenue_per_product.xlsx'],
] as const;

/** An analysed event of a run whose four outputs are staged (written straight to the folder, unrecorded). */
async function analysed(store: ObjectStore, runId: string, startedAt: string): Promise<PipelineEvent> {
  const mats: Record<string, Materialization> = {};
  for (const [key, name] of OUTPUTS) {
    const put = await store.put(layout.staging(P, runId, name), `${name} of ${runId}\n`);
    mats[key] = {
      location: put.key,
      dataVersion: put.sha256,
      metadata: { durationMs: 1, publish: { as: name, location: put.key } },
    };
  }
  return makeEvent('analysed', {
    runId,
    partition: P,
    materializations: mats,
    checks: [],
    payload: {},
    runStartedAt: startedAt,
  });
}

/** The publisher as a service runs it (bindStage), its store and bus recorded in one log; run-a already published. */
async function setup() {
  const dir = await mkdtemp(join(tmpdir(), 'bn-publish-order-'));
  const folder = new FolderStore(dir);
  const log = new CallLog();
  const store = recordingStore(folder, log);
  const { ctx, bus } = await testContext({ store, now: () => new Date('2026-11-26T10:00:00Z') });
  const handle = bindStage(assetStageHandler(publisherStage), ctx, recordingBus(bus, log));
  await handle(await analysed(folder, 'run-a', '2026-11-15T08:00:00.000Z'));
  const b = await analysed(folder, 'run-b', '2026-11-15T09:00:00.000Z');
  log.restart();
  return { folder, log, bus, handle, b };
}

/** What a reader sees: the run the pointer names, after checking every file it names is there, whole. */
async function readerSees(store: ObjectStore): Promise<string | null> {
  const current = await readCurrent(store, P);
  if (!current) return null;
  const manifest = JSON.parse((await store.get(current.manifestKey)).toString()) as { runId: string; files: unknown };
  expect(manifest.runId).toBe(current.runId);
  expect(manifest.files).toEqual(current.files);
  for (const f of current.files) {
    const body = await store.get(f.key);
    expect(createHash('sha256').update(body).digest('hex')).toBe(f.sha256);
    expect(body.toString()).toBe(`${f.name} of ${current.runId}\n`);
  }
  return current.runId;
}

describe('the publisher, effect by effect', () => {
  it('writes the files, then the manifest, then the pointer, then publishes its event, then its log and record, then its marker', async () => {
    const s = await setup();
    await s.handle(s.b);
    expect(s.log.lines()).toEqual([
      'put runs/2026-11/run-b/publisher.json',
      // the run index (derived from the records, shared/src/runs/run-index.ts): its next generation, the one before the last deleted
      'put state/index/runs/2026-11/0000000003.json',
      'delete state/index/runs/2026-11/0000000001.json',
      'put state/publish/2026-11.lock',
      'put extracts/2026-11/run-b/merged_with_revenue.csv',
      'put extracts/2026-11/run-b/premium_wines.csv',
      'put extracts/2026-11/run-b/ordinary_wines.csv',
      'put extracts/2026-11/run-b/revenue_per_product.xlsx',
      'put extracts/2026-11/run-b/_manifest.json',
      'put extracts/2026-11/_current.json',
      'delete state/publish/2026-11.lock',
      'publish run-b.published',
      'put runs/2026-11/run-b/publisher.log.jsonl',
      'put runs/2026-11/run-b/publisher.json',
      'put state/index/runs/2026-11/0000000004.json',
      'delete state/index/runs/2026-11/0000000002.json',
      `put ${doneMarkerKey('publisher', s.b)}`,
    ]);
  });

  it('writes the manifest and the pointer as JSON (content type, indented, a final newline)', async () => {
    const s = await setup();
    await s.handle(s.b);
    const json = s.log.effects().filter((c) => c.opts?.contentType === 'application/json');
    expect(json.map((c) => c.target)).toEqual(
      expect.arrayContaining(['extracts/2026-11/run-b/_manifest.json', 'extracts/2026-11/_current.json']),
    );
    for (const key of ['extracts/2026-11/run-b/_manifest.json', 'extracts/2026-11/_current.json']) {
      const body = (await s.folder.get(key)).toString();
      expect(body).toBe(JSON.stringify(JSON.parse(body), null, 2) + '\n');
    }
  });

  it('for every k, a crash at the k-th effect leaves readers a whole set, and a redelivery publishes run-b once', async () => {
    const clean = await setup();
    await clean.handle(clean.b);
    const n = clean.log.effects().length;
    expect(n).toBeGreaterThan(8);
    for (let k = 1; k <= n; k++) {
      const { folder, log, bus, handle, b } = await setup();
      log.restart(k);
      await expect(handle(b), `crash at effect ${String(k)}`).rejects.toBeInstanceOf(Crash);
      const seen = await readerSees(folder);
      expect(['run-a', 'run-b'], `crash at effect ${String(k)}`).toContain(seen);
      // The pointer moves to run-b only once all of run-b's files and its manifest are written.
      const pointerAt = clean.log.effects().findIndex((c) => c.target === layout.current(P)) + 1;
      expect(seen, `crash at effect ${String(k)}`).toBe(k > pointerAt ? 'run-b' : 'run-a');
      // The event before the marker: a crash before the marker means the event goes out again on redelivery.
      const markerAt = clean.log.effects().findIndex((c) => c.target === doneMarkerKey('publisher', b)) + 1;
      const eventAt = clean.log.effects().findIndex((c) => c.target === 'run-b.published') + 1;
      expect(eventAt).toBeLessThan(markerAt);
      expect(await folder.head(doneMarkerKey('publisher', b)), `crash at effect ${String(k)}`).toBeNull();
      log.restart();
      await handle(JSON.parse(JSON.stringify(b)) as PipelineEvent);
      expect(await readerSees(folder)).toBe('run-b');
      const ids = bus.messages().map((m) => m.event.id);
      expect(new Set(ids), `crash at effect ${String(k)}`).toEqual(new Set(['run-a.published', 'run-b.published']));
      expect(await folder.head(doneMarkerKey('publisher', b))).not.toBeNull();
      expect(await folder.head(layout.publishLock(P))).toBeNull();
      // A further redelivery changes nothing.
      log.restart();
      await handle(JSON.parse(JSON.stringify(b)) as PipelineEvent);
      expect(log.effects()).toEqual([]);
    }
  });
});

describe('the publisher at its edges', () => {
  it('orders runs that started at the same instant by run id, and lets a run publish again over itself', async () => {
    const { folder, handle } = await setup();
    const same = '2026-11-15T09:00:00.000Z';
    await handle(await analysed(folder, 'run-c', same));
    expect((await readCurrent(folder, P))!.runId).toBe('run-c');
    // run-b started at the same instant but sorts before run-c: superseded, the pointer stays.
    await handle(await analysed(folder, 'run-b', same));
    expect((await readCurrent(folder, P))!.runId).toBe('run-c');
    await handle(await analysed(folder, 'run-d', same));
    expect((await readCurrent(folder, P))!.runId).toBe('run-d');
    // A run that started a millisecond later wins whatever its id.
    await handle(await analysed(folder, 'run-0', '2026-11-15T09:00:00.001Z'));
    expect((await readCurrent(folder, P))!.runId).toBe('run-0');
  });

  it("records in the manifest every asset's data version and the checks: passed counted, failed warnings named", async () => {
    const { folder, handle } = await setup();
    const e = await analysed(folder, 'run-b', '2026-11-15T09:00:00.000Z');
    e.checks.push(
      {
        asset: 'erp_clean',
        check: 'product_id_unique',
        passed: true,
        severity: 'ERROR',
        blocking: true,
        description: 'd',
        metadata: {},
      },
      {
        asset: 'erp_clean',
        check: 'price_not_negative',
        passed: false,
        severity: 'WARN',
        blocking: false,
        description: 'd',
        metadata: {},
      },
      {
        asset: 'web_clean',
        check: 'sku_single_version',
        passed: true,
        severity: 'WARN',
        blocking: false,
        description: 'd',
        metadata: {},
      },
      // A failed ERROR check that does not block is not a warning (nor a pass).
      {
        asset: 'liaison_clean',
        check: 'keys_unique',
        passed: false,
        severity: 'ERROR',
        blocking: false,
        description: 'd',
        metadata: {},
      },
    );
    await handle(e);
    const manifest = JSON.parse((await folder.get('extracts/2026-11/run-b/_manifest.json')).toString()) as {
      assets: Record<string, string>;
      checks: unknown;
    };
    expect(manifest.checks).toEqual({ passed: 2, warnings: ['erp_clean.price_not_negative'] });
    expect(Object.keys(manifest.assets).sort()).toEqual(OUTPUTS.map(([k]) => k).sort());
    expect(manifest.assets.premium_wines).toBe(e.materializations.premium_wines!.dataVersion);
  });

  it('keeps the pointer and the newest sets as runs pile up: only older sets are pruned', async () => {
    const { folder, handle } = await setup();
    for (let i = 1; i <= 6; i++)
      await handle(await analysed(folder, `run-b${String(i)}`, `2026-11-15T1${String(i)}:00:00.000Z`));
    const keys = (await folder.list('extracts/2026-11/')).map((o) => o.key);
    expect(keys).toContain('extracts/2026-11/_current.json');
    const runs = [...new Set(keys.filter((k) => k.split('/').length > 3).map((k) => k.split('/')[2]))];
    // Run ids sort in time order (newRunId): the current one and the three before it stay.
    expect(runs).toEqual(['run-b3', 'run-b4', 'run-b5', 'run-b6']);
    expect(await readerSees(folder)).toBe('run-b6');
  });
});
