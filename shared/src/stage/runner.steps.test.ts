import { afterAll, describe, expect, it } from 'vitest';
import { MemoryBus } from '../adapters/memory-bus.js';
import { BottleneckError, createError } from '../errors/index.js';
import { makeEvent, type PipelineEvent } from '../events/index.js';
import type { ObjectStore } from '../ports/object-store.js';
import { readStageRecord } from '../runs/record.js';
import { cleanupTestContexts, testContext } from '../testing/context.js';
import { silentLogger, type StageHandler } from './context.js';
import {
  bindStage,
  claimOrSkip,
  doneMarkerKey,
  failedEvent,
  failureOf,
  formatBudget,
  outageError,
  publishEvents,
  runUnderDeadline,
  startDeadline,
  writeMarker,
  type Deadline,
} from './runner.js';

afterAll(cleanupTestContexts);

const NOW = () => new Date('2026-11-26T10:00:00Z');
const validated = (runId = 'run-1') =>
  makeEvent(
    'validated',
    { runId, partition: '2026-11', materializations: {}, checks: [], payload: {} },
    NOW(),
    `${runId}.v`,
  );
const merged = (e: PipelineEvent) =>
  makeEvent('merged', { runId: e.runId, partition: e.partition, materializations: {}, checks: [], payload: {} });
// A deadline whose budget is long but already spent: a step must not start the budget again.
const spent: Deadline = { budgetMs: 60_000, remaining: () => 0 };
const ample: Deadline = { budgetMs: 60_000, remaining: () => 60_000 };
const unavailable = () => createError('BN_ERR_STORE_IO', 'HTTP 503 ServiceUnavailable', { retriable: true });
const handlerOf = (handle: StageHandler['handle']): StageHandler => ({
  stage: 'merge',
  consumes: ['validated'],
  handle,
});

describe('formatBudget: the retry budget in words, as configured', () => {
  it.each([
    [30_000, '30 seconds'],
    [1_000, '1 second'],
    [60_000, '1 minute'],
    [90_000, '1 minute 30 seconds'],
    [600_000, '10 minutes'],
    [250, '250 milliseconds'],
  ])('%d ms is "%s"', (ms, words) => expect(formatBudget(ms)).toBe(words));
});

describe('outageError', () => {
  it('says the real budget (30 s is not "1 minute") and how to resume', () => {
    const exhausted = createError('BN_ERR_RETRIES_EXHAUSTED', 'gave up after 4 attempts over 29 s: HTTP 503', {
      cause: unavailable(),
      details: { attempts: 4, spentMs: 29_000 },
    });
    const e = outageError(exhausted, { partition: '2026-11' }, 30_000) as BottleneckError;
    expect(e.code).toBe('BN_ERR_INFRA_UNAVAILABLE');
    expect(e.retriable).toBe(true);
    expect(e.message).toBe(
      'the store or the bus stayed unreachable for 30 seconds (BN_RETRY_BUDGET_MS=30000): HTTP 503 ServiceUnavailable. Once it is back, resume the month with: bottleneck trigger --partition 2026-11',
    );
    expect(e.details).toEqual({ attempts: 4, spentMs: 29_000, budgetMs: 30_000 });
  });

  it('leaves any other error as it is', () => {
    const bad = createError('BN_ERR_INPUT_BAD_VALUE', 'row 7');
    expect(outageError(bad, { partition: '2026-11' }, 30_000)).toBe(bad);
  });
});

describe('startDeadline', () => {
  it('counts down from the budget and stops at 0', () => {
    let t = 1_000;
    const d = startDeadline(5_000, () => t);
    expect(d.remaining()).toBe(5_000);
    t += 2_000;
    expect(d.remaining()).toBe(3_000);
    t += 10_000;
    expect(d.remaining()).toBe(0);
  });
});

describe('claimOrSkip (step 1)', () => {
  it('skips an event whose marker exists, takes one whose marker does not', async () => {
    const { ctx, store } = await testContext({ now: NOW });
    const e = validated();
    const marker = doneMarkerKey('merge', e);
    expect(await claimOrSkip(ctx, marker, e, ample)).toEqual({ state: 'new' });
    await store.put(marker, '{}');
    expect(await claimOrSkip(ctx, marker, e, ample)).toEqual({ state: 'handled' });
  });

  it('answers unknown once the deadline is spent with the store still down (one attempt, no wait)', async () => {
    let heads = 0;
    const store = {
      head: () => {
        heads++;
        return Promise.reject(unavailable());
      },
    } as unknown as ObjectStore;
    const { ctx } = await testContext({ now: NOW });
    const claim = await claimOrSkip({ ...ctx, store }, 'm', validated(), spent);
    expect(claim.state).toBe('unknown');
    expect(heads).toBe(1);
  });

  it("hands an alerter's failed event back to the bus instead (nothing to send a failure to)", async () => {
    const store = { head: () => Promise.reject(unavailable()) } as unknown as ObjectStore;
    const { ctx } = await testContext({ now: NOW });
    const failed = failureOf(
      handlerOf(async () => []),
      validated(),
      new Error('x'),
      ctx,
    );
    await expect(claimOrSkip({ ...ctx, store }, 'm', failed, spent)).rejects.toMatchObject({
      code: 'BN_ERR_RETRIES_EXHAUSTED',
    });
  });
});

describe('runUnderDeadline (step 2)', () => {
  it('retries a transient error while the deadline lasts', async () => {
    const { ctx } = await testContext({ now: NOW });
    let n = 0;
    const out = await runUnderDeadline(
      handlerOf(async (e) => {
        if (n++ === 0) throw unavailable();
        return [merged(e)];
      }),
      validated(),
      ctx,
      ample,
    );
    expect(n).toBe(2);
    expect(out.map((o) => o.type)).toEqual(['merged']);
  });

  it('gives up within its budget: with the deadline spent, one attempt and no retry', async () => {
    const { ctx } = await testContext({ now: NOW });
    let n = 0;
    const run = runUnderDeadline(
      handlerOf(() => {
        n++;
        return Promise.reject(unavailable());
      }),
      validated(),
      ctx,
      spent,
    );
    await expect(run).rejects.toMatchObject({ code: 'BN_ERR_RETRIES_EXHAUSTED' });
    expect(n).toBe(1);
  });
});

describe('failureOf (the failure path)', () => {
  it('makes one failed event carrying what the stage made before it stopped (typed details, no cast)', async () => {
    const { ctx } = await testContext({ now: NOW, retryBudgetMs: 30_000 });
    const m = { location: 'staging/2026-11/run-1/x.parquet', dataVersion: 'v', metadata: { durationMs: 1 } };
    const err = createError('BN_ERR_CHECK_FAILED', 'blocking check failed in stage merge: x', {
      asset: 'merged_with_revenue',
      details: { failedChecks: ['merged_with_revenue.c'], materializations: { merged_with_revenue: m } },
    });
    const f = failureOf(
      handlerOf(async () => []),
      validated(),
      err,
      ctx,
    );
    expect(f).toMatchObject({
      type: 'failed',
      id: 'run-1.failed.merge',
      materializations: { merged_with_revenue: m },
      payload: { code: 'BN_ERR_CHECK_FAILED', stage: 'merge', asset: 'merged_with_revenue', retriable: false },
    });
  });
});

describe('publishEvents and writeMarker (steps 3 and 5)', () => {
  it('publishes in order, and the marker names the handled event and what it emitted', async () => {
    const { ctx, store } = await testContext({ now: NOW });
    const bus = new MemoryBus();
    const e = validated();
    const out = [merged(e), merged(validated('run-2'))];
    await publishEvents(bus, out, ample);
    expect(bus.messages().map((m) => m.event.id)).toEqual(out.map((o) => o.id));
    await writeMarker(ctx.store, doneMarkerKey('merge', e), e, out, ample);
    expect(JSON.parse((await store.get(doneMarkerKey('merge', e))).toString())).toEqual({
      handled: e.id,
      emitted: out.map((o) => ({ id: o.id, type: 'merged' })),
    });
  });
});

describe('bindStage: one run, one failed event', () => {
  it('does not hand a failed handling back to the bus when the store is still down after the failure', async () => {
    // The store answers nothing: the marker check runs out, the run fails as an outage, and the
    // record and marker cannot be written. Before, that last write threw, the bus redelivered,
    // and the redelivery emitted a second `failed` message with the same id.
    const down = {
      head: () => Promise.reject(unavailable()),
      put: () => Promise.reject(unavailable()),
    } as unknown as ObjectStore;
    const { ctx } = await testContext({ now: NOW, retryBudgetMs: 0 });
    const bus = new MemoryBus();
    let calls = 0;
    const run = bindStage(
      handlerOf(async (e) => {
        calls++;
        return [merged(e)];
      }),
      { ...ctx, store: down },
      bus,
    );
    await expect(run(validated())).resolves.toBeUndefined();
    expect(calls).toBe(0);
    const events = bus.messages().map((m) => m.event);
    expect(events.map((x) => [x.type, x.id])).toEqual([['failed', 'run-1.failed.merge']]);
    expect(events[0]).toMatchObject({ payload: { code: 'BN_ERR_INFRA_UNAVAILABLE' } });
  });

  it('still hands a succeeded handling back to the bus when its marker cannot be written (at-least-once)', async () => {
    const { ctx, store } = await testContext({ now: NOW, retryBudgetMs: 0 });
    const flaky = Object.create(store) as ObjectStore;
    flaky.put = (key, body, opts) =>
      key.includes('/_done/') ? Promise.reject(unavailable()) : store.put(key, body, opts);
    const bus = new MemoryBus();
    const run = bindStage(
      handlerOf(async (e) => [merged(e)]),
      { ...ctx, store: flaky },
      bus,
    );
    await expect(run(validated())).rejects.toMatchObject({ code: 'BN_ERR_RETRIES_EXHAUSTED' });
    expect(bus.messages().map((m) => m.event.type)).toEqual(['merged']);
  });
});

describe('failedEvent: what a failure says', () => {
  const check = (asset: string, name: string, passed: boolean) => ({
    asset,
    check: name,
    passed,
    severity: 'ERROR' as const,
    blocking: true,
    description: 'd',
    metadata: {},
  });

  it('keeps a message of 2,000 characters whole and cuts a longer one, saying how much is left out', () => {
    const e = validated();
    const at = (n: number) =>
      failedEvent('merge', e, createError('BN_ERR_INPUT_BAD_VALUE', 'x'.repeat(n)), NOW()).payload.message;
    expect(at(2_000)).toBe('x'.repeat(2_000));
    expect(at(2_001)).toBe(`${'x'.repeat(2_000)}... (1 more characters)`);
    expect(at(5_000)).toBe(`${'x'.repeat(2_000)}... (3000 more characters)`);
  });

  it("carries the run's fields, the error's stage, asset and cell (without empty fields), and the event it answers", () => {
    const e = makeEvent(
      'validated',
      {
        runId: 'run-1',
        partition: '2026-11',
        materializations: {},
        checks: [check('erp_clean', 'a', true)],
        payload: {},
        runStartedAt: '2026-11-26T09:00:00.000Z',
        parentRunId: 'run-0',
        expectations: { rowCounts: { erp_clean: 3 } },
      },
      NOW(),
      'run-1.v',
    );
    const err = createError('BN_ERR_INPUT_BAD_VALUE', 'row 7: "vingt" is not a number', {
      stage: 'clean',
      asset: 'erp_clean',
      location: { file: 'erp.xlsx', sheet: 'Sheet1', column: undefined, row: 7 },
      details: { checks: [check('erp_clean', 'a', false), check('erp_clean', 'b', false)] },
    });
    const f = failedEvent('merge', e, err, NOW());
    expect(f).toMatchObject({
      id: 'run-1.failed.merge',
      runStartedAt: '2026-11-26T09:00:00.000Z',
      parentRunId: 'run-0',
      expectations: { rowCounts: { erp_clean: 3 } },
      payload: {
        stage: 'clean',
        asset: 'erp_clean',
        code: 'BN_ERR_INPUT_BAD_VALUE',
        errorClass: 'BottleneckError',
        retriable: false,
        failedAt: NOW().toISOString(),
        trigger: { id: 'run-1.v', type: 'validated', v: 1, ts: e.ts },
      },
    });
    expect(f.payload.location).toEqual({ file: 'erp.xlsx', sheet: 'Sheet1', row: 7 });
    // The event's result of a check wins over the error's for the same check; new ones are added.
    expect(f.checks.map((c) => [c.check, c.passed])).toEqual([
      ['a', true],
      ['b', false],
    ]);
    const bare = failedEvent('merge', validated(), createError('BN_ERR_INPUT_EMPTY', 'empty'), NOW());
    expect(bare).not.toHaveProperty('runStartedAt');
    expect(bare).not.toHaveProperty('parentRunId');
    expect(bare).not.toHaveProperty('expectations');
    expect(bare.payload).not.toHaveProperty('asset');
    expect(bare.payload).not.toHaveProperty('location');
    expect(bare.payload.stage).toBe('merge');
    const nowhere = createError('BN_ERR_INPUT_EMPTY', 'empty', { location: { column: undefined } });
    expect(failedEvent('merge', validated(), nowhere, NOW()).payload).not.toHaveProperty('location');
  });

  it('wraps anything else in the error boundary of the stage, naming the class of the cause', () => {
    const f = failedEvent('merge', validated(), new RangeError('bad length'), NOW());
    expect(f.payload).toMatchObject({
      code: 'BN_ERR_ASSET_FAILED',
      errorClass: 'RangeError',
      message: 'asset unknown (stage merge) failed: bad length',
      stage: 'merge',
    });
  });
});

describe("bindStage: the stage's run record", () => {
  it('names what started the stage: a trigger its source and parent run, a re-executed event "reexecution"', async () => {
    const { ctx, store } = await testContext({ now: NOW });
    const bus = new MemoryBus();
    const run = bindStage({ ...handlerOf(async (e) => [merged(e)]), codeVersion: 'abc123' }, ctx, bus);
    const trigger = makeEvent(
      'trigger',
      {
        runId: 'run-t',
        partition: '2026-11',
        materializations: {},
        checks: [],
        payload: { source: 'manual', parentRunId: 'run-0' },
      },
      NOW(),
      'run-t.trigger',
    );
    await run(trigger);
    expect(await readStageRecord(store, '2026-11', 'run-t', 'merge')).toMatchObject({
      consumed: { id: 'run-t.trigger', type: 'trigger', source: 'manual', parentRunId: 'run-0' },
      runStartedAt: trigger.ts,
      codeVersion: 'abc123',
      status: 'succeeded',
    });
    const again = makeEvent(
      'validated',
      { runId: 'run-r', partition: '2026-11', materializations: {}, checks: [], payload: {}, parentRunId: 'run-0' },
      NOW(),
      'run-r.v',
    );
    await run(again);
    expect((await readStageRecord(store, '2026-11', 'run-r', 'merge'))!.consumed).toEqual({
      id: 'run-r.v',
      type: 'validated',
      ts: again.ts,
      source: 'reexecution',
      parentRunId: 'run-0',
    });
    await run(validated('run-p'));
    const plain = (await readStageRecord(store, '2026-11', 'run-p', 'merge'))!;
    expect(plain.consumed).toEqual({ id: 'run-p.v', type: 'validated', ts: validated('run-p').ts });
    expect(plain.runStartedAt).toBe(plain.consumed.ts);
  });

  it('records a superseded run as superseded, not failed, and without a code version as "unknown"', async () => {
    const { ctx, store } = await testContext({ now: NOW });
    const run = bindStage(
      handlerOf(async () => {
        throw createError('BN_ERR_RUN_SUPERSEDED', 'run run-1 of 2026-11 is not published: newer');
      }),
      ctx,
      new MemoryBus(),
    );
    await run(validated());
    expect(await readStageRecord(store, '2026-11', 'run-1', 'merge')).toMatchObject({
      status: 'superseded',
      codeVersion: 'unknown',
      emitted: [{ id: 'run-1.failed.merge', type: 'failed' }],
      error: { code: 'BN_ERR_RUN_SUPERSEDED', retriable: false },
    });
  });

  it('tells the progress listener what the stage consumed and emitted', async () => {
    const seen: unknown[] = [];
    const { ctx } = await testContext({ now: NOW, progress: { onStage: (p) => seen.push(p) } });
    const run = bindStage(
      handlerOf(async (e) => [merged(e)]),
      ctx,
      new MemoryBus(),
    );
    await run(validated());
    expect(seen).toEqual([
      {
        stage: 'merge',
        consumed: 'validated',
        emitted: ['merged'],
        durationMs: expect.any(Number),
        runId: 'run-1',
        partition: '2026-11',
        eventId: 'run-1.v',
      },
    ]);
  });
});

describe('bindStage: what it says, and its edges', () => {
  /** A logger that keeps every line. */
  function logged() {
    const lines: [string, Record<string, unknown>, string | undefined][] = [];
    const at = (level: string) => (obj: object, msg?: string) => void lines.push([level, { ...obj }, msg]);
    return { lines, log: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
  }
  const ids = { runId: 'run-1', partition: '2026-11', eventId: 'run-1.v', stage: 'merge' };

  it('logs each transient error it waits out, the handling, and a redelivery it skips', async () => {
    const { ctx, store } = await testContext({ now: NOW });
    const { lines, log } = logged();
    let heads = 0;
    const flaky = Object.assign(Object.create(store) as ObjectStore, {
      head: async (key: string) => (heads++ === 0 ? Promise.reject(unavailable()) : store.head(key)),
    });
    let calls = 0;
    const run = bindStage(
      handlerOf(async (e) => {
        if (calls++ === 0) throw unavailable();
        return [merged(e)];
      }),
      { ...ctx, store: flaky, log },
      new MemoryBus(),
    );
    await run(validated());
    await run(validated());
    const retrying = (attempt: number) => [
      'warn',
      { ...ids, attempt, delayMs: expect.any(Number), err: 'HTTP 503 ServiceUnavailable' },
      'transient error: retrying',
    ];
    expect(lines).toEqual([
      retrying(1),
      ['info', { ...ids, consumed: 'validated' }, 'merge started on validated'],
      retrying(1),
      [
        'info',
        { ...ids, eventType: 'validated', emitted: ['merged'], durationMs: expect.any(Number) },
        expect.stringMatching(/^merge handed over merged after \d+ ms$/),
      ],
      ['info', { ...ids, eventType: 'validated' }, 'already handled: skipped (redelivery)'],
    ]);
  });

  it('logs a failure, a run record it could not write, and a marker it could not write after a failed event', async () => {
    const { ctx, store } = await testContext({ now: NOW, retryBudgetMs: 0 });
    const { lines, log } = logged();
    const down = Object.assign(Object.create(store) as ObjectStore, {
      put: async () => Promise.reject(unavailable()),
    });
    const run = bindStage(
      handlerOf(async () => {
        throw createError('BN_ERR_INPUT_EMPTY', 'web.xlsx has no data rows');
      }),
      { ...ctx, store: down, log },
      new MemoryBus(),
    );
    await run(validated());
    const gaveUp = 'gave up after 1 attempts over 0 s: HTTP 503 ServiceUnavailable';
    expect(lines).toEqual([
      ['info', { ...ids, consumed: 'validated' }, 'merge started on validated'],
      ['warn', { ...ids, err: 'HTTP 503 ServiceUnavailable' }, 'run record not written (start)'],
      [
        'error',
        { ...ids, code: 'BN_ERR_INPUT_EMPTY', err: 'web.xlsx has no data rows' },
        'stage failed: web.xlsx has no data rows',
      ],
      [
        'info',
        { ...ids, eventType: 'validated', emitted: ['failed'], durationMs: expect.any(Number) },
        expect.stringMatching(/^merge failed after \d+ ms$/),
      ],
      ['warn', { ...ids, err: gaveUp }, 'run log not written'],
      ['warn', { ...ids, err: gaveUp }, 'failed event published; run record or marker not written'],
    ]);
  });

  it("records 'running' while the stage works, then what it made: nothing for a stage that emits nothing", async () => {
    const { ctx, store } = await testContext({ now: NOW });
    let during: unknown;
    const run = bindStage(
      handlerOf(async (e) => {
        during = await readStageRecord(store, e.partition, e.runId, 'merge');
        return [];
      }),
      ctx,
      new MemoryBus(),
    );
    await run(validated());
    expect(during).toMatchObject({ status: 'running', emitted: [], materializations: {}, checks: [] });
    expect(await readStageRecord(store, '2026-11', 'run-1', 'merge')).toMatchObject({
      status: 'succeeded',
      emitted: [],
      materializations: {},
      checks: [],
    });
    expect((await store.get(doneMarkerKey('merge', validated()))).toString()).toBe(
      JSON.stringify({ handled: 'run-1.v', emitted: [] }) + '\n',
    );
  });

  it("records a failure's asset and cell in the run record", async () => {
    const { ctx, store } = await testContext({ now: NOW });
    const run = bindStage(
      handlerOf(async () => {
        throw createError('BN_ERR_INPUT_BAD_VALUE', 'row 7', {
          asset: 'raw_erp',
          location: { file: 'erp.xlsx', row: 7 },
        });
      }),
      ctx,
      new MemoryBus(),
    );
    await run(validated());
    expect((await readStageRecord(store, '2026-11', 'run-1', 'merge'))!.error).toEqual({
      code: 'BN_ERR_INPUT_BAD_VALUE',
      message: 'row 7',
      retriable: false,
      asset: 'raw_erp',
      location: { file: 'erp.xlsx', row: 7 },
    });
  });

  it("hands a failed event's handling error back to the bus (the alerter has nothing to send a failure to)", async () => {
    const { ctx } = await testContext({ now: NOW });
    const bus = new MemoryBus();
    const boom = createError('BN_ERR_MAIL_SEND', 'SendGrid answered 400', { retriable: false });
    const run = bindStage(
      {
        stage: 'alerter',
        consumes: ['failed'],
        handle: async () => {
          throw boom;
        },
      },
      ctx,
      bus,
    );
    const f = failedEvent('merge', validated(), createError('BN_ERR_INPUT_EMPTY', 'empty'), NOW());
    await expect(run(f)).rejects.toBe(boom);
    expect(bus.messages()).toEqual([]);
  });

  it('throws what is not a store error at the marker check, instead of answering unknown', async () => {
    const broken = { head: () => Promise.reject(new TypeError('head is broken')) } as unknown as ObjectStore;
    await expect(claimOrSkip({ store: broken, log: silentLogger }, 'k', validated(), spent)).rejects.toThrow(
      'head is broken',
    );
  });

  it('measures the handling in its duration, and needs no onStage from a progress listener', async () => {
    const seen: number[] = [];
    const { ctx } = await testContext({ now: NOW, progress: { onStage: (p) => seen.push(p.durationMs) } });
    const slow = handlerOf(async (e) => {
      await new Promise((r) => setTimeout(r, 30));
      return [merged(e)];
    });
    const t0 = performance.now();
    await bindStage(slow, ctx, new MemoryBus())(validated());
    const elapsed = performance.now() - t0;
    expect(seen[0]).toBeGreaterThanOrEqual(25);
    expect(seen[0]).toBeLessThanOrEqual(Math.ceil(elapsed));
    const { ctx: other } = await testContext({ now: NOW, progress: { onAsset: () => undefined } });
    await expect(bindStage(slow, other, new MemoryBus())(validated())).resolves.toBeUndefined();
  });
});
