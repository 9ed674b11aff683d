import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { createError } from '../errors/index.js';
import { makeEvent, type EventOf, type PipelineEvent } from '../events/index.js';
import type { ObjectStore } from '../ports/object-store.js';
import { cleanupTestContexts, testContext } from '../testing/context.js';
import { CallLog, frozenStore, recordingBus, recordingStore } from '../testing/recording.js';
import type { StageHandler } from './context.js';
import { bindStage, boundedStep, doneMarkerKey, startDeadline } from './runner.js';

// A handler gives up within its budget plus one store request, whatever the store does, and a run
// emits one `failed` event. Fake timers: the budget is 30 s of fake time, not of the test's.

afterAll(cleanupTestContexts);
afterEach(() => {
  vi.useRealTimers();
});

const BUDGET = 30_000;
// requestTimeoutFor(30 s): the S3 client's socket timeout, and how long a step may outlive the budget.
const REQUEST = 3_000;

const validated = () =>
  makeEvent(
    'validated',
    { runId: 'run-1', partition: '2026-11', materializations: {}, checks: [], payload: {} },
    new Date('2026-11-26T10:00:00Z'),
    'run-1.v',
  );
const merged = (e: PipelineEvent) =>
  makeEvent('merged', { runId: e.runId, partition: e.partition, materializations: {}, checks: [], payload: {} });
const unavailable = () => createError('BN_ERR_STORE_IO', 'HTTP 503 ServiceUnavailable', { retriable: true });

/**
 * A store in memory with no I/O at all (put, get and head answer at once): fake time moves only
 * while the handler waits on a timer, never while it waits on a disk.
 */
function instantStore(): ObjectStore {
  const objects = new Map<string, Buffer>();
  const info = (key: string) => ({ key, bytes: objects.get(key)!.length, etag: 'e', modified: new Date(0) });
  return {
    put: (key, body) => {
      const buf = Buffer.from(body);
      objects.set(key, buf);
      return Promise.resolve({ key, bytes: buf.length, sha256: '' });
    },
    get: (key) => {
      const buf = objects.get(key);
      return buf ? Promise.resolve(buf) : Promise.reject(createError('BN_ERR_STORE_NOT_FOUND', key));
    },
    head: (key) => Promise.resolve(objects.has(key) ? info(key) : null),
    list: (prefix) => Promise.resolve([...objects.keys()].filter((k) => k.startsWith(prefix)).map(info)),
    delete: (key) => Promise.resolve(void objects.delete(key)),
    describe: (key) => `memory:${key}`,
  } as ObjectStore;
}

/** Moves fake time on until `p` settles (at most `maxMs` of fake time); returns the fake time it took. */
async function settle(p: Promise<unknown>, maxMs = 300_000): Promise<number> {
  let done = false;
  void p.then(
    () => (done = true),
    () => (done = true),
  );
  let t = 0;
  while (!done && t < maxMs) {
    await vi.advanceTimersByTimeAsync(250);
    t += 250;
  }
  return t;
}

/** The stage bound over `store` (fake timers on from here), its bus, and how often the handler ran. */
async function bound(store: (real: ObjectStore) => ObjectStore, handle: StageHandler['handle'], log?: CallLog) {
  const t = await testContext({ retryBudgetMs: BUDGET });
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  let calls = 0;
  const handler: StageHandler = {
    stage: 'merge',
    consumes: ['validated'],
    handle: (e, c) => {
      calls++;
      return handle(e, c);
    },
  };
  const run = bindStage(handler, { ...t.ctx, store: store(instantStore()) }, log ? recordingBus(t.bus, log) : t.bus);
  const failed = () =>
    t.bus
      .messages()
      .map((m) => m.event)
      .filter((e): e is EventOf<'failed'> => e.type === 'failed');
  return { run, bus: t.bus, failed, calls: () => calls };
}

/** How long the stage took to give up, as the failed event records it. */
const giveUpMs = (f: EventOf<'failed'>) => Date.parse(f.payload.failedAt) - Date.parse(f.payload.startedAt!);

describe('bindStage gives up within its budget plus one request, with one failed event', () => {
  it.each([
    ['answers nothing at all', { timeoutMs: undefined }],
    ['times out every request after one request timeout (the S3 client, one attempt)', { timeoutMs: REQUEST }],
  ])('a store that %s: failed at the budget, before the store is asked anything else', async (_, o) => {
    const log = new CallLog();
    const s = await bound(
      (real) => recordingStore(frozenStore(real, o), log),
      async (e) => [merged(e)],
      log,
    );
    await settle(s.run(validated()));
    const failed = s.failed();
    expect(failed).toHaveLength(1);
    // It kept trying for the budget (the retry stops early when its next wait would end past it).
    expect(giveUpMs(failed[0]!)).toBeGreaterThan(BUDGET - REQUEST);
    expect(giveUpMs(failed[0]!)).toBeLessThanOrEqual(BUDGET + REQUEST);
    expect(failed[0]!.payload).toMatchObject({ code: 'BN_ERR_INFRA_UNAVAILABLE', retriable: true });
    expect(failed[0]!.payload.message).toMatch(
      /^the store or the bus stayed unreachable for 30 seconds \(BN_RETRY_BUDGET_MS=30000\): .*\. Once it is back, resume the month with: bottleneck trigger --partition 2026-11$/,
    );
    expect(s.calls()).toBe(0);
    // Before the failed event, only the marker check asked the store (no start record waited for it
    // again); the stage's log, then the outcome record, come after it.
    const marker = doneMarkerKey('merge', validated());
    const lines = log.calls.map((c) => `${c.op} ${c.target}`);
    const said = lines.indexOf('publish run-1.failed.merge');
    expect(new Set(lines.slice(0, said))).toEqual(new Set([`head ${marker}`]));
    expect(lines[said + 1]).toBe('put runs/2026-11/run-1/merge.log.jsonl');
    expect(lines.slice(said + 1)).toContain('put runs/2026-11/run-1/merge.json');
  });

  it('writes the marker once the store is back after the failed event: a redelivery is skipped, not run into a second outcome', async () => {
    let frozen = true;
    const s = await bound(
      (real) => frozenStore(real, { frozen: () => frozen, timeoutMs: REQUEST }),
      async (e) => [merged(e)],
    );
    const run = s.run(validated());
    await settle(
      new Promise<void>((resolve) => {
        const check = () => (s.failed().length ? resolve() : setTimeout(check, 100));
        check();
      }),
    );
    frozen = false;
    await settle(run);
    // Delivered again (a rebalance, a restart): the marker is there, nothing runs, nothing is published.
    await settle(s.run(validated()));
    expect(s.calls()).toBe(0);
    expect(s.bus.messages().map((m) => m.event.type)).toEqual(['failed']);
  });

  it('a store that freezes after the marker check: the retries end with the budget, failed within budget plus one request', async () => {
    const s = await bound(
      (real) => frozenStore(real, { frozen: (op) => op !== 'head', timeoutMs: REQUEST }),
      async (_e, ctx) => {
        await ctx.store.get('staging/2026-11/run-1/x.parquet');
        return [];
      },
    );
    await settle(s.run(validated()));
    const failed = s.failed();
    expect(failed).toHaveLength(1);
    expect(giveUpMs(failed[0]!)).toBeLessThanOrEqual(BUDGET + REQUEST);
    expect(failed[0]!.payload.code).toBe('BN_ERR_INFRA_UNAVAILABLE');
    expect(s.calls()).toBeGreaterThan(2);
  });

  it("cuts a retry that hangs at the deadline, but never the first attempt: the stage's work may take longer than the budget", async () => {
    const hung = await bound(
      (real) => real,
      () => (hung.calls() === 1 ? Promise.reject(unavailable()) : new Promise<PipelineEvent[]>(() => undefined)),
    );
    await settle(hung.run(validated()));
    expect(hung.failed()).toHaveLength(1);
    expect(giveUpMs(hung.failed()[0]!)).toBeLessThanOrEqual(BUDGET + REQUEST);
    expect(hung.failed()[0]!.payload.message).toContain('stage merge (retry 1) did not answer within the retry budget');

    const slow = await bound(
      (real) => real,
      async (e) => {
        await new Promise((r) => setTimeout(r, 2 * BUDGET));
        return [merged(e)];
      },
    );
    await settle(slow.run(validated()));
    expect(slow.bus.messages().map((m) => m.event.type)).toEqual(['merged']);
  });
});

describe('boundedStep', () => {
  it('gives a step what is left of the deadline, or one request when less is left; a late failure of the step is dropped', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const deadline = startDeadline(10_000);
    expect(deadline.graceMs).toBe(1_000);
    let lateReject!: (e: unknown) => void;
    const step = boundedStep('the marker check', deadline, () => new Promise((_, reject) => (lateReject = reject)));
    const outcome = step.then(
      () => 'resolved',
      (e: unknown) => e,
    );
    await vi.advanceTimersByTimeAsync(9_999);
    await vi.advanceTimersByTimeAsync(1);
    expect(await outcome).toMatchObject({
      code: 'BN_ERR_RETRIES_EXHAUSTED',
      message: 'gave up after 10 s: the marker check did not answer within the retry budget',
    });
    // After the cut, the step's own failure goes nowhere (no unhandled rejection).
    lateReject(unavailable());
    // With the deadline spent, a step still gets one request's time.
    const last = boundedStep('the marker', deadline, () => new Promise((r) => setTimeout(() => r('written'), 900)));
    await vi.advanceTimersByTimeAsync(900);
    expect(await last).toBe('written');
  });
});
