import { errorClassOf, isBottleneckError, assetErrorBoundary } from '../errors/index.js';
import { makeEvent, type CheckResult, type EventOf, type PipelineEvent } from '../events/index.js';
import { layout } from '../keys.js';
import type { Bus, EventHandler } from '../ports/bus.js';
import { withRetry } from '../retry/index.js';
import { timed } from '../profile.js';
import type { StageContext, StageHandler } from './context.js';

function mergeChecks(a: readonly CheckResult[], b: readonly CheckResult[]): CheckResult[] {
  const seen = new Set(a.map((c) => `${c.asset}.${c.check}`));
  return [...a, ...b.filter((c) => !seen.has(`${c.asset}.${c.check}`))];
}

/** Builds the `failed` event for an error thrown while a stage handled `event`. */
export function failedEvent(stage: string, event: PipelineEvent, e: unknown, now: Date): EventOf<'failed'> {
  const err = isBottleneckError(e) ? e : assetErrorBoundary(stage, 'unknown', e);
  const loc = err.location ? Object.fromEntries(Object.entries(err.location).filter(([, v]) => v !== undefined)) : undefined;
  return makeEvent('failed', {
    runId: event.runId,
    partition: event.partition,
    materializations: { ...event.materializations },
    checks: mergeChecks(event.checks, (err.details?.checks as CheckResult[] | undefined) ?? []),
    ...(event.expectations ? { expectations: event.expectations } : {}),
    payload: {
      stage: err.stage ?? stage,
      ...(err.asset ? { asset: err.asset } : {}),
      code: err.code,
      errorClass: errorClassOf(err.cause ?? err),
      message: err.message,
      retriable: err.retriable,
      ...(loc && Object.keys(loc).length ? { location: loc } : {}),
      failedAt: now.toISOString(),
      trigger: { id: event.id, type: event.type, v: event.v, ts: event.ts },
    },
  }, now);
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
    if (await ctx.store.head(marker)) {
      ctx.log.info({ ...log, eventType: event.type }, 'already handled: skipped (redelivery)');
      return;
    }
    const t0 = performance.now();
    let out: PipelineEvent[];
    try {
      out = await withRetry(() => timed(`stage ${handler.stage} on ${event.type}`, () => handler.handle(event, ctx)), {
        retries: 3,
        onRetry: (e, attempt, delayMs) => ctx.log.warn({ ...log, attempt, delayMs, err: (e as Error).message }, 'transient error: retrying'),
      });
    } catch (e) {
      // The alerter has nothing to send a failure to: let the bus redeliver, then dead-letter.
      if (event.type === 'failed') throw e;
      ctx.log.error({ ...log, code: (e as { code?: string }).code, err: (e as Error).message }, 'stage failed');
      out = [failedEvent(handler.stage, event, e, ctx.now())];
    }
    for (const o of out) await bus.publish(o);
    await ctx.store.put(marker, JSON.stringify({ handled: event.id, emitted: out.map((o) => ({ id: o.id, type: o.type })) }) + '\n');
    const durationMs = Math.round(performance.now() - t0);
    ctx.log.info({ ...log, eventType: event.type, emitted: out.map((o) => o.type), durationMs }, 'handled');
    ctx.progress?.onStage?.({ stage: handler.stage, consumed: event.type, emitted: out.map((o) => o.type), durationMs, runId: event.runId, partition: event.partition, eventId: event.id });
  };
}
