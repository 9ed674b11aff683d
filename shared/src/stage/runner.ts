import { BottleneckError, errorClassOf, errorMessage, isBottleneckError, assetErrorBoundary } from '../errors/index.js';
import {
  makeEvent,
  stageEventId,
  type CheckResult,
  type EventOf,
  type Materialization,
  type PipelineEvent,
} from '../events/index.js';
import { layout } from '../keys.js';
import type { Bus, EventHandler } from '../ports/bus.js';
import { withRetry } from '../retry/index.js';
import { ownPart, writeStageRecord, type StageRecord } from '../runs/record.js';
import { admitEvent } from './provenance.js';
import { timed } from '../profile.js';
import type { StageContext, StageHandler } from './context.js';

function mergeChecks(a: readonly CheckResult[], b: readonly CheckResult[]): CheckResult[] {
  const seen = new Set(a.map((c) => `${c.asset}.${c.check}`));
  return [...a, ...b.filter((c) => !seen.has(`${c.asset}.${c.check}`))];
}

/** Builds the `failed` event for an error thrown while a stage handled `event`. */
export function failedEvent(stage: string, event: PipelineEvent, e: unknown, now: Date): EventOf<'failed'> {
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
      materializations: {
        ...event.materializations,
        ...((err.details?.materializations as Record<string, Materialization> | undefined) ?? {}),
      },
      checks: mergeChecks(event.checks, (err.details?.checks as CheckResult[] | undefined) ?? []),
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
        failedAt: now.toISOString(),
        trigger: { id: event.id, type: event.type, v: event.v, ts: event.ts },
      },
    },
    now,
    stageEventId(event.runId, 'failed', stage),
  );
}

/**
 * When transient errors outlasted the retry budget, the run fails with BN_ERR_INFRA_UNAVAILABLE:
 * an outage, not bad input, said once, with how to resume the month once the outage is over.
 */
function outage(e: unknown, event: PipelineEvent, budgetMs: number): unknown {
  if (!isBottleneckError(e) || e.code !== 'BN_ERR_RETRIES_EXHAUSTED') return e;
  const minutes = Math.max(1, Math.round(budgetMs / 60_000));
  return new BottleneckError(
    'BN_ERR_INFRA_UNAVAILABLE',
    `the store or the bus stayed unreachable for ${minutes} minute${minutes > 1 ? 's' : ''} (BN_RETRY_BUDGET_MS): ${errorMessage(e.cause ?? e)}. Once it is back, resume the month with: bottleneck trigger --partition ${event.partition}`,
    {
      cause: e,
      retriable: true,
      ...(e.details ? { details: e.details } : {}),
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
 * Turns a stage into a bus handler: idempotent (a redelivered event, or a second event for the
 * same run and stage, is skipped: its marker exists), transient errors retried with backoff, any
 * other error turned into a `failed` event. The marker is written after the events are published,
 * so a crash in between repeats the publish (at-least-once) rather than losing it.
 */
export function bindStage(handler: StageHandler, ctx: StageContext, bus: Bus): EventHandler {
  return async (event) => {
    const log = { runId: event.runId, partition: event.partition, eventId: event.id, stage: handler.stage };
    const marker = doneMarkerKey(handler.stage, event);
    // The store's transient errors are waited out for the budget here too: an outage met at the
    // marker check would otherwise go back to the bus, which dead-letters the event after a few
    // quick attempts (the run lost, instead of delayed).
    const budget = { budgetMs: ctx.retryBudgetMs, initialDelayMs: 200, maxDelayMs: 30_000 };
    let exhausted: BottleneckError | undefined;
    try {
      const done = await withRetry(() => ctx.store.head(marker), {
        ...budget,
        onRetry: (e, attempt, delayMs) =>
          ctx.log.warn({ ...log, attempt, delayMs, err: errorMessage(e) }, 'transient error: retrying'),
      });
      if (done) {
        ctx.log.info({ ...log, eventType: event.type }, 'already handled: skipped (redelivery)');
        return;
      }
    } catch (e) {
      if (event.type === 'failed' || !isBottleneckError(e) || e.code !== 'BN_ERR_RETRIES_EXHAUSTED') throw e;
      exhausted = e;
    }
    // Only verified facts make a run: an event naming another run's or month's assets is refused
    // before anything is recorded (the bus dead-letters it; the alerter records it as refused).
    admitEvent(event);
    const t0 = performance.now();
    const startedAt = ctx.now().toISOString();
    const record = recordBase(handler, event, startedAt);
    // The run record: this stage started (best effort: the outcome below is what must not be lost).
    await writeStageRecord(ctx.store, {
      ...record,
      status: 'running',
      emitted: [],
      materializations: {},
      checks: [],
    }).catch((e: unknown) => ctx.log.warn({ ...log, err: errorMessage(e) }, 'run record not written (start)'));
    let out: PipelineEvent[];
    try {
      if (exhausted) throw exhausted;
      // Transient errors (the store or the bus down, throttling) are retried for a time budget, not a
      // count: an outage of a few minutes delays the run, it does not fail it.
      out = await withRetry(() => timed(`stage ${handler.stage} on ${event.type}`, () => handler.handle(event, ctx)), {
        budgetMs: ctx.retryBudgetMs,
        initialDelayMs: 200,
        maxDelayMs: 30_000,
        onRetry: (e, attempt, delayMs) =>
          ctx.log.warn({ ...log, attempt, delayMs, err: errorMessage(e) }, 'transient error: retrying'),
      });
    } catch (e) {
      // The alerter has nothing to send a failure to: let the bus redeliver, then dead-letter.
      if (event.type === 'failed') throw e;
      const err = outage(e, event, ctx.retryBudgetMs);
      ctx.log.error({ ...log, code: (err as { code?: string }).code, err: errorMessage(err) }, 'stage failed');
      out = [failedEvent(handler.stage, event, err, ctx.now())];
    }
    for (const o of out) await withRetry(() => bus.publish(o), budget);
    const durationMs = Math.round(performance.now() - t0);
    // The outcome in the run record, before the marker: a crash in between writes it again.
    await withRetry(
      () =>
        writeStageRecord(ctx.store, {
          ...record,
          ...outcomeOf(event, out),
          endedAt: ctx.now().toISOString(),
          durationMs,
        }),
      budget,
    );
    await withRetry(
      () =>
        ctx.store.put(
          marker,
          JSON.stringify({ handled: event.id, emitted: out.map((o) => ({ id: o.id, type: o.type })) }) + '\n',
        ),
      budget,
    );
    ctx.log.info({ ...log, eventType: event.type, emitted: out.map((o) => o.type), durationMs }, 'handled');
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
