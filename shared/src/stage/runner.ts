import {
  assetErrorBoundary,
  createError,
  errorClassOf,
  errorMessage,
  isBottleneckError,
  progressOf,
} from '../errors/index.js';
import { makeEvent, stageEventId, type CheckResult, type EventOf, type PipelineEvent } from '../events/index.js';
import { layout } from '../keys.js';
import type { Bus, EventHandler } from '../ports/bus.js';
import { requestTimeoutFor, withRetry } from '../retry/index.js';
import { ownPart, writeStageRecord, type StageRecord } from '../runs/record.js';
import { RunLogBuffer, writeStageLog } from '../runs/logs.js';
import { admitEvent } from './provenance.js';
import { cpuMs, mark, timed } from '../profile.js';
import type { StageContext, StageHandler } from './context.js';

/**
 * catalog/backfills.ts's `backfillCancelled`, its module (and the catalog's dozen it imports)
 * loaded only for a backfill's trigger: a run that is not part of a backfill does not pay for it
 * at start.
 */
async function backfillCancelled(store: StageContext['store'], backfillId: string | undefined): Promise<boolean> {
  if (backfillId === undefined) return false;
  return (await import('../catalog/backfills.js')).backfillCancelled(store, backfillId);
}

function mergeChecks(a: readonly CheckResult[], b: readonly CheckResult[]): CheckResult[] {
  const seen = new Set(a.map((c) => `${c.asset}.${c.check}`));
  return [...a, ...b.filter((c) => !seen.has(`${c.asset}.${c.check}`))];
}

/** Builds the `failed` event for an error thrown while a stage handled `event`. */
export function failedEvent(
  stage: string,
  event: PipelineEvent,
  e: unknown,
  now: Date,
  startedAt?: Date,
): EventOf<'failed'> {
  const err = isBottleneckError(e) ? e : assetErrorBoundary(stage, 'unknown', e);
  const loc = err.location
    ? Object.fromEntries(Object.entries(err.location).filter(([, v]) => v !== undefined))
    : undefined;
  return makeEvent(
    'failed',
    {
      runId: event.runId,
      partition: event.partition,
      // What the stage materialized and checked before it stopped goes with the failure (run record, dead-letter record).
      materializations: { ...event.materializations, ...err.details?.materializations },
      checks: mergeChecks(event.checks, err.details?.checks ?? []),
      ...(event.expectations ? { expectations: event.expectations } : {}),
      ...(event.runStartedAt ? { runStartedAt: event.runStartedAt } : {}),
      ...(event.parentRunId ? { parentRunId: event.parentRunId } : {}),
      payload: {
        stage: err.stage ?? stage,
        ...(err.asset ? { asset: err.asset } : {}),
        code: err.code,
        errorClass: errorClassOf(err.cause ?? err),
        // Bounded: an error may quote a cell, and a cell may be megabytes long.
        message:
          err.message.length > 2_000
            ? `${err.message.slice(0, 2_000)}... (${err.message.length - 2_000} more characters)`
            : err.message,
        retriable: err.retriable,
        ...(loc && Object.keys(loc).length ? { location: loc } : {}),
        ...(startedAt ? { startedAt: startedAt.toISOString() } : {}),
        failedAt: now.toISOString(),
        trigger: { id: event.id, type: event.type, v: event.v, ts: event.ts },
      },
    },
    now,
    stageEventId(event.runId, 'failed', stage),
  );
}

/**
 * A retry budget in words: "30 seconds", "1 minute", "2 minutes 30 seconds" (what an operator set
 * in BN_RETRY_BUDGET_MS, said as it is, never rounded to a minute it was not).
 */
export function formatBudget(ms: number): string {
  const unit = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;
  if (ms < 1_000) return unit(Math.max(0, Math.round(ms)), 'millisecond');
  const totalSeconds = Math.round(ms / 1_000);
  const minutes = Math.floor(totalSeconds / 60);
  const seconds = totalSeconds % 60;
  if (minutes === 0) return unit(seconds, 'second');
  return seconds === 0 ? unit(minutes, 'minute') : `${unit(minutes, 'minute')} ${unit(seconds, 'second')}`;
}

/**
 * When transient errors outlasted the retry budget, the run fails with BN_ERR_INFRA_UNAVAILABLE:
 * an outage, not bad input, said once, with the budget as configured and how to resume the month
 * once the outage is over. Any other error is returned as it is.
 */
export function outageError(e: unknown, event: Pick<PipelineEvent, 'partition'>, budgetMs: number): unknown {
  if (!isBottleneckError(e) || e.code !== 'BN_ERR_RETRIES_EXHAUSTED') return e;
  return createError(
    'BN_ERR_INFRA_UNAVAILABLE',
    `the store or the bus stayed unreachable for ${formatBudget(budgetMs)} (BN_RETRY_BUDGET_MS=${budgetMs}): ${errorMessage(e.cause ?? e)}. Once it is back, resume the month with: bottleneck trigger --partition ${event.partition}`,
    {
      cause: e,
      details: {
        ...progressOf(e.details),
        ...(e.details?.attempts !== undefined ? { attempts: e.details.attempts } : {}),
        ...(e.details?.spentMs !== undefined ? { spentMs: e.details.spentMs } : {}),
        budgetMs,
      },
    },
  );
}

/** The part of a stage's run record known when it starts. */
function recordBase(
  handler: StageHandler,
  event: PipelineEvent,
  startedAt: string,
): Omit<StageRecord, 'status' | 'emitted' | 'materializations' | 'checks'> {
  const parentRunId = event.parentRunId ?? (event.type === 'trigger' ? event.payload.parentRunId : undefined);
  const source = event.type === 'trigger' ? event.payload.source : event.parentRunId ? 'reexecution' : undefined;
  const trigger = { ...(source ? { source } : {}), ...(parentRunId ? { parentRunId } : {}) };
  return {
    runId: event.runId,
    partition: event.partition,
    stage: handler.stage,
    runStartedAt: event.runStartedAt ?? event.ts,
    consumed: { id: event.id, type: event.type, ts: event.ts, ...trigger },
    event,
    startedAt,
    codeVersion: handler.codeVersion ?? 'unknown',
  };
}

/** What a handling ended with, for the run record: its status, events, own materializations and checks, error. */
function outcomeOf(
  consumed: PipelineEvent,
  out: PipelineEvent[],
): Pick<StageRecord, 'status' | 'emitted' | 'materializations' | 'checks' | 'error'> {
  const emitted = out.map((o) => ({ id: o.id, type: o.type }));
  const failed = out.find((o): o is EventOf<'failed'> => o.type === 'failed');
  const last = out.at(-1);
  const own = last ? ownPart(consumed, last) : { materializations: {}, checks: [] };
  if (!failed) return { status: 'succeeded', emitted, ...own };
  const p = failed.payload;
  return {
    status: p.code === 'BN_ERR_RUN_SUPERSEDED' ? 'superseded' : 'failed',
    emitted,
    ...own,
    error: {
      code: p.code,
      message: p.message,
      retriable: p.retriable,
      ...(p.asset ? { asset: p.asset } : {}),
      ...(p.location ? { location: p.location } : {}),
    },
  };
}

/** The object that records that `stage` handled `type` for a run: the idempotency marker. */
export function doneMarkerKey(stage: string, event: PipelineEvent): string {
  return layout.staging(event.partition, event.runId, `_done/${stage}.${event.type}.json`);
}

/**
 * One deadline for a whole handling (marker check, the stage's work, publishing, the run record
 * and the marker): each step retries transient errors only for what is left of the retry budget,
 * so a handler gives up within its budget instead of restarting the budget at every step. A step
 * always gets one attempt, even when the budget is spent.
 */
export interface Deadline {
  readonly budgetMs: number;
  /** Milliseconds left (0 when spent). */
  remaining(): number;
  /**
   * How long a step may outlive the deadline: one store request's timeout (default
   * `requestTimeoutFor(budgetMs)`, the S3 client's socket timeout). A step is cut at the end of
   * the budget or after this long, whichever is later, so a step started with the budget spent
   * still gets its one attempt, and no step ends later than the budget plus one request.
   */
  readonly graceMs?: number;
}

export function startDeadline(
  budgetMs: number,
  now: () => number = Date.now,
  graceMs: number = requestTimeoutFor(budgetMs),
): Deadline {
  const end = now() + budgetMs;
  return { budgetMs, graceMs, remaining: () => Math.max(0, end - now()) };
}

/** How long a step started now may take: what is left of the deadline, or one request when that is less. */
export function stepLimitMs(deadline: Deadline): number {
  return Math.max(deadline.remaining(), deadline.graceMs ?? requestTimeoutFor(deadline.budgetMs));
}

/**
 * Races `step` against the deadline (`stepLimitMs`): past it, the step is given up with
 * BN_ERR_RETRIES_EXHAUSTED (an outage: the run fails as BN_ERR_INFRA_UNAVAILABLE). The step is not
 * cancelled (the store's port takes no signal): it goes on in the background, its result or error
 * dropped; nothing it returns is published. Retries inside the step stop by themselves at the
 * deadline (`within`).
 */
export async function boundedStep<T>(what: string, deadline: Deadline, step: () => Promise<T>): Promise<T> {
  const limit = stepLimitMs(deadline);
  const started = Date.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const running = step();
  // Once given up, a late rejection of the step is expected: it must not become an unhandled one.
  running.catch(() => undefined);
  const cut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const spentMs = Date.now() - started;
      reject(
        createError(
          'BN_ERR_RETRIES_EXHAUSTED',
          `gave up after ${Math.round(spentMs / 1000)} s: ${what} did not answer within the retry budget`,
          { details: { spentMs } },
        ),
      );
    }, limit);
  });
  try {
    return await Promise.race([running, cut]);
  } finally {
    clearTimeout(timer);
  }
}

/** Retry options for a step: transient errors retried for what is left of the deadline. */
function within(deadline: Deadline, onRetry?: (e: unknown, attempt: number, delayMs: number) => void) {
  return {
    budgetMs: deadline.remaining(),
    initialDelayMs: 200,
    maxDelayMs: 30_000,
    ...(onRetry ? { onRetry } : {}),
  };
}

/** What the marker check found: the event handled already, not yet, or unknown because the store stayed down. */
export type Claim = { state: 'handled' } | { state: 'new' } | { state: 'unknown'; error: unknown };

/**
 * Step 1, claim or skip: whether this stage already handled this event for the run (its marker
 * exists). The store's transient errors are waited out for the deadline here too: an outage met
 * at the marker check would otherwise go back to the bus, which dead-letters the event after a
 * few quick attempts (the run lost, instead of delayed). When the budget runs out the answer is
 * `unknown` (the run then fails as an outage), except for the alerter's `failed` events, which
 * go back to the bus (there is nothing to send a failure to).
 */
export async function claimOrSkip(
  ctx: Pick<StageContext, 'store' | 'log'>,
  marker: string,
  event: PipelineEvent,
  deadline: Deadline,
  log: Record<string, unknown> = {},
): Promise<Claim> {
  try {
    const done = await boundedStep('the marker check', deadline, () =>
      withRetry(
        () => ctx.store.head(marker),
        within(deadline, (e, attempt, delayMs) =>
          ctx.log.warn({ ...log, attempt, delayMs, err: errorMessage(e) }, 'transient error: retrying'),
        ),
      ),
    );
    return done ? { state: 'handled' } : { state: 'new' };
  } catch (e) {
    if (event.type === 'failed' || !isBottleneckError(e) || e.code !== 'BN_ERR_RETRIES_EXHAUSTED') throw e;
    return { state: 'unknown', error: e };
  }
}

/**
 * Step 2, run: the stage's work under the deadline. Transient errors (the store or the bus down,
 * throttling) are retried for what is left of the budget, not a count: an outage shorter than
 * the budget delays the run, it does not fail it. Returns the events to publish, or throws.
 */
export async function runUnderDeadline(
  handler: StageHandler,
  event: PipelineEvent,
  ctx: StageContext,
  deadline: Deadline,
  log: Record<string, unknown> = {},
): Promise<PipelineEvent[]> {
  const attempt = () => timed(`stage ${handler.stage} on ${event.type}`, () => handler.handle(event, ctx));
  return withRetry(
    // The first attempt is the stage's work, which may rightly take longer than the budget (a big
    // month); a retry is only waiting out an outage, so it ends with the deadline.
    (n) => (n === 0 ? attempt() : boundedStep(`stage ${handler.stage} (retry ${n})`, deadline, attempt)),
    within(deadline, (e, attempt, delayMs) =>
      ctx.log.warn({ ...log, attempt, delayMs, err: errorMessage(e) }, 'transient error: retrying'),
    ),
  );
}

/**
 * Step 2b, the failure path: the one `failed` event of a handling that threw. Retries that ran
 * out become BN_ERR_INFRA_UNAVAILABLE (an outage, with the real budget and the resume command);
 * anything else keeps its code. Exactly one event: the caller publishes it once.
 */
export function failureOf(
  handler: Pick<StageHandler, 'stage'>,
  event: PipelineEvent,
  e: unknown,
  ctx: Pick<StageContext, 'now' | 'retryBudgetMs' | 'log'>,
  log: Record<string, unknown> = {},
  startedAt?: Date,
): EventOf<'failed'> {
  const err = outageError(e, event, ctx.retryBudgetMs);
  ctx.log.error(
    { ...log, code: isBottleneckError(err) ? err.code : undefined, err: errorMessage(err) },
    `stage failed: ${errorMessage(err)}`,
  );
  return failedEvent(handler.stage, event, err, ctx.now(), startedAt);
}

/** Step 3, publish: the events, in order, each retried for what is left of the deadline. */
export async function publishEvents(bus: Pick<Bus, 'publish'>, out: readonly PipelineEvent[], deadline: Deadline) {
  for (const o of out) await withRetry(() => bus.publish(o), within(deadline));
}

/** Step 4, the run record's outcome (after the events, before the marker: a crash in between writes it again). */
export async function writeOutcome(
  ctx: Pick<StageContext, 'store' | 'now'>,
  record: Omit<StageRecord, 'status' | 'emitted' | 'materializations' | 'checks'>,
  event: PipelineEvent,
  out: PipelineEvent[],
  durationMs: number,
  deadline: Deadline,
): Promise<void> {
  await boundedStep('the run record', deadline, () =>
    withRetry(
      () =>
        writeStageRecord(ctx.store, {
          ...record,
          ...outcomeOf(event, out),
          endedAt: ctx.now().toISOString(),
          durationMs,
        }),
      within(deadline),
    ),
  );
}

/** Step 5, the marker: written last, so a crash before it repeats the handling (at-least-once) rather than losing it. */
export async function writeMarker(
  store: StageContext['store'],
  marker: string,
  event: PipelineEvent,
  out: readonly PipelineEvent[],
  deadline: Deadline,
): Promise<void> {
  await boundedStep('the marker', deadline, () =>
    withRetry(
      () =>
        store.put(
          marker,
          JSON.stringify({ handled: event.id, emitted: out.map((o) => ({ id: o.id, type: o.type })) }) + '\n',
        ),
      within(deadline),
    ),
  );
}

/**
 * Turns a stage into a bus handler, in named steps under one deadline (the retry budget):
 * claim or skip (a redelivered event, or a second event for the same run and stage, is skipped:
 * its marker exists), run (transient errors retried), the failure path (anything else becomes one
 * `failed` event), publish, the run record, then the marker. The marker is written after the
 * events are published, so a crash in between repeats the publish (at-least-once) rather than
 * losing it.
 *
 * A run emits one `failed` event: once it is published, the record and the marker are best
 * effort. (Before, a store still down after the failure made the marker write throw, the bus
 * redelivered the event, the marker check ran out again, and a second `failed` message with the
 * same id went out: two alerts for one run.)
 *
 * A handler gives up within its budget plus one store request (`Deadline.graceMs`): every store
 * step is cut at the deadline (`boundedStep`), and when the marker check found the store
 * unreachable for the whole budget, the `failed` event goes out at once (the start record, which
 * would wait for the store again first, is not attempted). After it, the outcome record and the
 * marker are waited for up to a budget of their own.
 */
export function bindStage(handler: StageHandler, base: StageContext, bus: Bus): EventHandler {
  return async (event) => {
    const log = { runId: event.runId, partition: event.partition, eventId: event.id, stage: handler.stage };
    // What the stage logs for this run is kept with its run record (redacted, bounded): `bottleneck logs`, the console.
    const logs = new RunLogBuffer(handler.stage, base.now);
    const ctx: StageContext = { ...base, log: logs.tee(base.log) };
    const marker = doneMarkerKey(handler.stage, event);
    const startedAt = ctx.now();
    const deadline = startDeadline(ctx.retryBudgetMs);
    const claim = await timed(`${handler.stage}: marker check`, () => claimOrSkip(ctx, marker, event, deadline, log));
    if (claim.state === 'handled') {
      ctx.log.info({ ...log, eventType: event.type }, 'already handled: skipped (redelivery)');
      return;
    }
    // A cancelled backfill's month not started yet is not started (nothing recorded: it shows as
    // "not started" under its backfill); one already running finishes.
    if (event.type === 'trigger' && (await backfillCancelled(ctx.store, event.payload.backfillId))) {
      ctx.log.info({ ...log, backfillId: event.payload.backfillId }, 'backfill cancelled: month not started');
      return;
    }
    // Only verified facts make a run: an event naming another run's or month's assets is refused
    // before anything is recorded (the bus dead-letters it; the alerter records it as refused).
    admitEvent(event);
    ctx.log.info({ ...log, consumed: event.type }, `${handler.stage} started on ${event.type}`);
    const t0 = performance.now();
    const record = recordBase(handler, event, startedAt.toISOString());
    // The store stayed unreachable for the whole budget: `failed` goes out before it is asked again.
    const storeDown = claim.state === 'unknown';
    // The run record: this stage started (best effort: the outcome below is what must not be lost).
    // In one process (`startRecordBesideWork`) it is written while the work begins, the main thread's
    // bookkeeping beside DuckDB's work instead of before it, and awaited before anything the stage
    // says afterwards (its events, its log, its outcome record, its marker), so the outcome always
    // comes after it and a record never goes back to `running`.
    const started = storeDown
      ? Promise.resolve()
      : timed(`${handler.stage}: run record (start)`, () =>
          boundedStep('the run record', deadline, () =>
            writeStageRecord(ctx.store, {
              ...record,
              status: 'running',
              emitted: [],
              materializations: {},
              checks: [],
            }),
          ),
        ).catch((e: unknown) => ctx.log.warn({ ...log, err: errorMessage(e) }, 'run record not written (start)'));
    if (!ctx.startRecordBesideWork) await started;
    let out: PipelineEvent[];
    let failed = false;
    try {
      if (claim.state === 'unknown') throw claim.error;
      out = await runUnderDeadline(handler, event, ctx, deadline, log);
    } catch (e) {
      // The alerter has nothing to send a failure to: let the bus redeliver, then dead-letter.
      if (event.type === 'failed') {
        await started;
        throw e;
      }
      out = [failureOf(handler, event, e, ctx, log, startedAt)];
      failed = true;
    }
    await started;
    await timed(`${handler.stage}: publish`, () => publishEvents(bus, out, deadline));
    const durationMs = Math.round(performance.now() - t0);
    ctx.log.info(
      { ...log, eventType: event.type, emitted: out.map((o) => o.type), durationMs },
      failed
        ? `${handler.stage} failed after ${durationMs} ms`
        : `${handler.stage} handed over ${out.map((o) => o.type).join(', ') || 'nothing'} after ${durationMs} ms`,
    );
    // Once `failed` is out, the outcome and the marker get a budget of their own: the failure is
    // already said (this wait holds only this month's lane), and a marker written once the store is
    // back keeps a redelivery of the event from running the failed month again (a failed run later
    // published by a redelivery: met in fault F3 when these writes were skipped).
    const after = failed ? startDeadline(ctx.retryBudgetMs) : deadline;
    const tEnd = performance.now();
    const cEnd = cpuMs();
    try {
      // Before the outcome record: once a record says the stage ended, its log is there (a crash in
      // between writes both again). Best effort: a log the store would not take never keeps the
      // outcome record and the marker from being written.
      await boundedStep('the run log', after, () =>
        withRetry(() => writeStageLog(ctx.store, logs.toLog(event.runId, event.partition)), within(after)),
      ).catch((e: unknown) => ctx.log.warn({ ...log, err: errorMessage(e) }, 'run log not written'));
      await writeOutcome(ctx, record, event, out, durationMs, after);
      await writeMarker(ctx.store, marker, event, out, after);
      mark(`${handler.stage}: run log, record and marker`, tEnd, cEnd);
    } catch (e) {
      // Success: throw, the bus redelivers, the handling repeats (same event ids; downstream skips the twin).
      if (!failed) throw e;
      // Failure: the `failed` event is out; another would be a second alert for the same run.
      ctx.log.warn({ ...log, err: errorMessage(e) }, 'failed event published; run record or marker not written');
    }
    ctx.progress?.onStage?.({
      stage: handler.stage,
      consumed: event.type,
      emitted: out.map((o) => o.type),
      durationMs,
      runId: event.runId,
      partition: event.partition,
      eventId: event.id,
    });
  };
}
