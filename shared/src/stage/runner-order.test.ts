import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FolderStore } from '../adapters/folder-store.js';
import { MemoryBus } from '../adapters/memory-bus.js';
import { createError } from '../errors/index.js';
import { makeEvent, type PipelineEvent } from '../events/index.js';
import { readStageRecord } from '../runs/record.js';
import { CallLog, Crash, recordingBus, recordingStore } from '../testing/recording.js';
import { createContext } from '../wiring.js';
import type { StageHandler } from './context.js';
import { bindStage, doneMarkerKey } from './runner.js';

const dirs: string[] = [];
const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of closers) await c();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

const validated = () =>
  makeEvent(
    'validated',
    { runId: 'run-1', partition: '2026-11', materializations: {}, checks: [], payload: {} },
    new Date('2026-11-26T09:00:00Z'),
    'run-1.validated',
  );

/** A merge stage whose effect is one object, then its event; or one that fails on bad input. */
async function setup(fail: boolean) {
  const dir = await mkdtemp(join(tmpdir(), 'bn-runner-order-'));
  dirs.push(dir);
  const folder = new FolderStore(dir);
  const log = new CallLog();
  const bus = new MemoryBus();
  const store = recordingStore(folder, log);
  const { ctx, close } = await createContext(
    { bus, store },
    { workRoot: dir, now: () => new Date('2026-11-26T10:00:00Z') },
  );
  closers.push(close, () => bus.close());
  const handler: StageHandler = {
    stage: 'merge',
    consumes: ['validated'],
    handle: async (e: PipelineEvent, c) => {
      if (fail)
        throw createError('BN_ERR_INPUT_BAD_VALUE', 'erp.xlsx, sheet "Sheet1", column "price", row 12: bad', {
          asset: 'erp_clean',
        });
      const put = await c.store.put('staging/2026-11/run-1/merged.parquet', 'rows');
      return [
        makeEvent(
          'merged',
          {
            runId: e.runId,
            partition: e.partition,
            checks: [],
            payload: {},
            materializations: {
              merged_with_revenue: { location: put.key, dataVersion: put.sha256, metadata: { durationMs: 1 } },
            },
          },
          new Date('2026-11-26T10:00:00Z'),
          'run-1.merged',
        ),
      ];
    },
  };
  return { folder, log, bus, store, handle: bindStage(handler, ctx, recordingBus(bus, log)) };
}

const MARKER = doneMarkerKey('merge', validated());

describe('bindStage, effect by effect', () => {
  for (const fail of [false, true]) {
    const type = fail ? 'failed' : 'merged';
    it(`${fail ? 'a failing stage' : 'a stage'}: its effects, then its ${type} event, then its log, its outcome record, then its marker; a crash at each effect is redelivered into one ${type} event`, async () => {
      const clean = await setup(fail);
      await clean.handle(validated());
      expect(clean.log.lines()).toEqual([
        'put runs/2026-11/run-1/merge.json',
        // each record is added to its month's run index (derived data, shared/src/runs/run-index.ts)
        'put state/index/runs/2026-11/0000000001.json',
        ...(fail ? [] : ['put staging/2026-11/run-1/merged.parquet']),
        `publish run-1.${fail ? 'failed.merge' : 'merged'}`,
        'put runs/2026-11/run-1/merge.log.jsonl',
        'put runs/2026-11/run-1/merge.json',
        'put state/index/runs/2026-11/0000000002.json',
        `put ${MARKER}`,
      ]);
      const n = clean.log.effects().length;
      const published = clean.log.effects().findIndex((c) => c.op === 'publish') + 1;
      for (let k = 1; k <= n; k++) {
        const what = `crash at effect ${String(k)}`;
        const { folder, log, bus, handle } = await setup(fail);
        log.restart(k);
        if (fail && k > published) {
          // Once the failed event is out, the outcome record and the marker are best effort: the
          // handling is not handed back to the bus, which would publish the failed event again.
          await expect(handle(validated()), what).resolves.toBeUndefined();
        } else {
          await expect(handle(validated()), what).rejects.toBeInstanceOf(Crash);
        }
        expect(await folder.head(MARKER), what).toBeNull();
        log.restart();
        await handle(validated());
        await handle(validated());
        const events = bus.messages().map((m) => m.event);
        expect(new Set(events.map((e) => e.id)), what).toEqual(new Set([fail ? 'run-1.failed.merge' : 'run-1.merged']));
        expect(
          events.every((e) => e.type === type),
          what,
        ).toBe(true);
        expect(await folder.head(MARKER), what).not.toBeNull();
        expect((await readStageRecord(folder, '2026-11', 'run-1', 'merge'))?.status, what).toBe(
          fail ? 'failed' : 'succeeded',
        );
      }
    });
  }
});
