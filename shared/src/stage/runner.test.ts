import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FolderStore } from '../adapters/folder-store.js';
import { MemoryBus } from '../adapters/memory-bus.js';
import { createError } from '../errors/index.js';
import { makeEvent, type PipelineEvent } from '../events/index.js';
import { createContext } from '../wiring.js';
import { readStageRecord } from '../runs/record.js';
import type { StageHandler } from './context.js';
import { bindStage } from './runner.js';

const dirs: string[] = [];
const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of closers) await c();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function setup(
  handle: StageHandler['handle'],
  o: { store?: (dir: string) => FolderStore; retryBudgetMs?: number } = {},
) {
  const dir = await mkdtemp(join(tmpdir(), 'bn-runner-'));
  dirs.push(dir);
  const bus = new MemoryBus();
  const { ctx, close } = await createContext(
    { bus, store: o.store?.(dir) ?? new FolderStore(dir) },
    {
      workRoot: dir,
      now: () => new Date('2026-11-26T10:00:00Z'),
      ...(o.retryBudgetMs !== undefined ? { retryBudgetMs: o.retryBudgetMs } : {}),
    },
  );
  closers.push(close);
  let calls = 0;
  const handler: StageHandler = {
    stage: 'merge',
    consumes: ['validated'],
    handle: async (e, c) => {
      calls++;
      return handle(e, c);
    },
  };
  const run = bindStage(handler, ctx, bus);
  return { run, bus, calls: () => calls, store: ctx.store };
}

const validated = (runId = 'run-1') =>
  makeEvent(
    'validated',
    { runId, partition: '2026-11', materializations: {}, checks: [], payload: {} },
    new Date(),
    `${runId}.v`,
  );
const merged = (e: PipelineEvent) =>
  makeEvent('merged', { runId: e.runId, partition: e.partition, materializations: {}, checks: [], payload: {} });

describe('bindStage', () => {
  it('handles a redelivered event once: same objects, no second downstream event', async () => {
    const { run, bus, calls } = await setup(async (e) => [merged(e)]);
    const e = validated();
    await run(e);
    await run(JSON.parse(JSON.stringify(e)));
    expect(calls()).toBe(1);
    expect(bus.messages().map((m) => m.event.type)).toEqual(['merged']);
  });

  it('turns a validation error into a failed event naming stage, code and cell, without retrying it', async () => {
    const { run, bus, calls } = await setup(async () => {
      throw createError(
        'BN_ERR_INPUT_BAD_VALUE',
        'erp.xlsx, sheet "Sheet1", column "price", row 12: "vingt euros" is not a number.',
        { location: { file: 'erp.xlsx', sheet: 'Sheet1', column: 'price', row: 12 }, asset: 'erp_clean' },
      );
    });
    const e = validated();
    await run(e);
    expect(calls()).toBe(1);
    const [failed] = bus.messages().map((m) => m.event);
    expect(failed).toMatchObject({
      type: 'failed',
      runId: 'run-1',
      partition: '2026-11',
      payload: {
        stage: 'merge',
        asset: 'erp_clean',
        code: 'BN_ERR_INPUT_BAD_VALUE',
        retriable: false,
        location: { file: 'erp.xlsx', sheet: 'Sheet1', column: 'price', row: 12 },
        trigger: { id: e.id, type: 'validated' },
      },
    });
  });

  it('leaves a run record of the stage in the store: running, then its outcome with what it made or the error', async () => {
    const withMat = (e: PipelineEvent) =>
      makeEvent('merged', {
        runId: e.runId,
        partition: e.partition,
        checks: [],
        materializations: {
          ...e.materializations,
          merged_with_revenue: {
            location: `staging/2026-11/${e.runId}/m.parquet`,
            dataVersion: 'v',
            metadata: { rowCount: 3, durationMs: 1 },
          },
        },
        payload: {},
      });
    const { run, store } = await setup(async (e) => [withMat(e)]);
    await run(validated('run-ok'));
    const ok = await readStageRecord(store, '2026-11', 'run-ok', 'merge');
    expect(ok).toMatchObject({
      runId: 'run-ok',
      stage: 'merge',
      status: 'succeeded',
      consumed: { id: 'run-ok.v', type: 'validated' },
      emitted: [{ type: 'merged' }],
      durationMs: expect.any(Number),
    });
    expect(Object.keys(ok!.materializations)).toEqual(['merged_with_revenue']);
    const { run: runBad, store: store2 } = await setup(async () => {
      throw createError('BN_ERR_CHECK_FAILED', 'blocking check failed in stage merge: x');
    });
    await runBad(validated('run-bad'));
    expect(await readStageRecord(store2, '2026-11', 'run-bad', 'merge')).toMatchObject({
      status: 'failed',
      error: { code: 'BN_ERR_CHECK_FAILED', message: 'blocking check failed in stage merge: x', retriable: false },
    });
  });

  it('retries a transient error and emits once', async () => {
    let n = 0;
    const { run, bus, calls } = await setup(async (e) => {
      if (n++ === 0) throw Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
      return [merged(e)];
    });
    await run(validated());
    expect(calls()).toBe(2);
    expect(bus.messages().map((m) => m.event.type)).toEqual(['merged']);
  });

  it('waits out a store outage met at the marker check, within the budget, instead of handing the event back to the bus', async () => {
    let heads = 0;
    const { run, bus, calls } = await setup(async (e) => [merged(e)], {
      store: (dir) => {
        const s = new FolderStore(dir);
        const head = s.head.bind(s);
        s.head = async (key: string) => {
          if (key.includes('/_done/') && heads++ < 2)
            throw createError('BN_ERR_STORE_IO', 'HTTP 503 ServiceUnavailable', { retriable: true });
          return head(key);
        };
        return s;
      },
    });
    await run(validated());
    expect(calls()).toBe(1);
    expect(bus.messages().map((m) => m.event.type)).toEqual(['merged']);
  });

  it('fails the run once, with the resume command, when the marker check outlasts the budget', async () => {
    const { run, bus, calls } = await setup(async (e) => [merged(e)], {
      retryBudgetMs: 300,
      store: (dir) => {
        const s = new FolderStore(dir);
        const head = s.head.bind(s);
        s.head = async (key: string) => {
          if (key.includes('/_done/'))
            throw createError('BN_ERR_STORE_IO', 'HTTP 503 ServiceUnavailable', { retriable: true });
          return head(key);
        };
        return s;
      },
    });
    await run(validated());
    expect(calls()).toBe(0);
    const [failed] = bus.messages().map((m) => m.event);
    expect(failed).toMatchObject({ type: 'failed', payload: { stage: 'merge', code: 'BN_ERR_INFRA_UNAVAILABLE' } });
    expect((failed as { payload: { message: string } }).payload.message).toMatch(
      /resume the month with: bottleneck trigger --partition 2026-11$/,
    );
  });

  it('wraps an unexpected crash in BN_ERR_ASSET_FAILED and keeps the message', async () => {
    const { run, bus } = await setup(async () => {
      throw new TypeError('cannot read properties of undefined');
    });
    await run(validated());
    expect(bus.messages()[0]!.event).toMatchObject({
      type: 'failed',
      payload: {
        code: 'BN_ERR_ASSET_FAILED',
        errorClass: 'TypeError',
        message: 'asset unknown (stage merge) failed: cannot read properties of undefined',
      },
    });
  });
});

describe('bindStage: refused events are no runs', () => {
  it("refuses an event naming another month's assets before anything is recorded: no handler call, no record, no failed event", async () => {
    const { run, bus, calls, store } = await setup(async (e) => [merged(e)]);
    const forged = makeEvent('validated', {
      runId: 'run-forged',
      partition: '2026-11',
      materializations: {
        raw_erp: { location: 'incoming/2026-10/erp.xlsx', dataVersion: 'x', metadata: { durationMs: 1 } },
      },
      checks: [],
      payload: {},
    });
    await expect(run(forged)).rejects.toMatchObject({
      code: 'BN_ERR_EVENT_INVALID',
      message:
        "the validated event of run run-forged (2026-11) names raw_erp at incoming/2026-10/erp.xlsx, outside incoming/2026-11/: refused (an event may only carry its own run's assets)",
    });
    expect(calls()).toBe(0);
    expect(await readStageRecord(store, '2026-11', 'run-forged', 'merge')).toBeNull();
    expect(bus.messages()).toEqual([]);
  });

  it('an event its run needs but that does not carry what the stage reads is a failed run of ours (not a refusal): recorded, failed event', async () => {
    const { run, bus, store } = await setup(async () => {
      throw createError('BN_ERR_EVENT_INVALID', 'the validated event has no materialization of x');
    });
    await run(validated('run-2'));
    expect((await readStageRecord(store, '2026-11', 'run-2', 'merge'))?.status).toBe('failed');
    expect(bus.messages().map((m) => m.event.type)).toEqual(['failed']);
  });
});
