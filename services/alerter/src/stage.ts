import {
  errorMessage,
  escapeHtml,
  isBottleneckError,
  layout,
  redactSecrets,
  withRetry,
  type EventOf,
  type PipelineEvent,
} from '@bottleneck/shared';
import { runLink } from '@bottleneck/shared/links';
import type { StageContext, StageHandler } from '@bottleneck/shared/stage/context';
import { AlertDelivery, type AlertState } from './delivery.js';

/** The dead-letter record of a failed run, at dead-letter/<partition>/<run-id>.json. */
export interface DeadLetterRecord {
  runId: string;
  partition: string;
  stage: string;
  asset: string | null;
  code: string;
  errorClass: string;
  message: string;
  retriable: boolean;
  location: EventOf<'failed'>['payload']['location'] | null;
  failedAt: string;
  recordedAt: string;
  /** The event whose handling failed, and the failed event itself (ids and types). */
  triggeringEvent: EventOf<'failed'>['payload']['trigger'] | null;
  failedEvent: { id: string; ts: string };
  failedChecks: { asset: string; check: string; metadata: Record<string, unknown> }[];
  materializations: Record<string, { location: string; dataVersion: string }>;
  alert: AlertState;
}

/**
 * Text safe in a mail header (the subject): an event's fields are data, so control characters
 * (CR and LF could add headers) become spaces, angle brackets go, and the length is bounded.
 */
export function headerSafe(s: string, max = 200): string {
  const flat = s
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f<>]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return flat.length > max ? `${flat.slice(0, max - 3)}...` : flat;
}

function buildRecord(e: EventOf<'failed'>, now: Date): DeadLetterRecord {
  const p = e.payload;
  return {
    runId: e.runId,
    partition: e.partition,
    stage: p.stage,
    asset: p.asset ?? null,
    code: p.code,
    errorClass: p.errorClass,
    message: redactSecrets(p.message),
    retriable: p.retriable,
    location: p.location ?? null,
    failedAt: p.failedAt,
    recordedAt: now.toISOString(),
    triggeringEvent: p.trigger ?? null,
    failedEvent: { id: e.id, ts: e.ts },
    failedChecks: e.checks
      .filter((c) => !c.passed && c.severity === 'ERROR')
      .map((c) => ({ asset: c.asset, check: c.check, metadata: c.metadata })),
    materializations: Object.fromEntries(
      Object.entries(e.materializations).map(([k, m]) => [k, { location: m.location, dataVersion: m.dataVersion }]),
    ),
    alert: { status: 'pending', attempts: 0 },
  };
}

/** The alert mail of a failed run: subject names the pipeline, stage and partition; the body is escaped. */
export function alertMail(r: DeadLetterRecord, pipelineName: string, deadLetterAt: string, consoleUrl?: string) {
  const link = consoleUrl ? runLink(consoleUrl, r.runId) : null;
  const subject = headerSafe(`[${pipelineName}] run failed at stage ${r.stage} for ${r.partition}`);
  const lines = [
    `The ${pipelineName} run ${r.runId} for ${r.partition} failed at stage ${r.stage}${r.asset ? ` (asset ${r.asset})` : ''}.`,
    '',
    `Failed at: ${r.failedAt}`,
    `Error: ${r.code}`,
    `Message: ${r.message}`,
    ...(r.location
      ? [
          `Where: ${Object.entries(r.location)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}`,
        ]
      : []),
    `Dead-letter record: ${deadLetterAt}`,
    '',
    'Nothing was published for this run.',
  ];
  const html = `<p>${lines.map(escapeHtml).join('<br>\n')}</p>`;
  if (!link) return { subject, text: lines.join('\n'), html };
  const open = 'Open the run in the console:';
  return {
    subject,
    text: [...lines, '', `${open} ${link}`].join('\n'),
    html: `${html}\n<p>${escapeHtml(open)} <a href="${escapeHtml(link)}">${escapeHtml(link)}</a></p>`,
  };
}

/**
 * alerter: on failed, writes the dead-letter record first, then queues one alert per failed run in
 * the store and makes a first attempt at it (AlertDelivery: a failed attempt is retried for hours,
 * across restarts, by the alerter's sweep). Store writes are retried for as long as alerts are
 * (BN_ALERT_RETRY_MS): a failure is never dropped because the store was down for a while. A
 * redelivered failure finds its record and its alert and does neither twice.
 */
export const alerterStage: StageHandler = {
  stage: 'alerter',
  consumes: ['failed'],
  async handle(event: PipelineEvent, ctx: StageContext): Promise<PipelineEvent[]> {
    if (event.type !== 'failed') return [];
    const log = { runId: event.runId, partition: event.partition, eventId: event.id, stage: 'alerter' };
    // A superseded run is not a failure: a newer run of the month has its files. No record, no mail.
    if (event.payload.code === 'BN_ERR_RUN_SUPERSEDED') {
      ctx.log.info(log, `superseded: ${event.payload.message}`);
      return [];
    }
    const key = layout.deadLetter(event.partition, event.runId);
    const retryForMs = ctx.alert?.retryForMs ?? DEFAULT_ALERT_RETRY_MS;
    const patient = <T>(fn: () => Promise<T>) =>
      withRetry(fn, {
        budgetMs: retryForMs,
        initialDelayMs: 500,
        maxDelayMs: 60_000,
        onRetry: (e, attempt, delayMs) =>
          ctx.log.warn(
            { ...log, attempt, delayMs, err: errorMessage(e) },
            'dead-letter record: the store is not answering, retrying',
          ),
      });
    const existing = await patient(() => readRecord(ctx, key));
    const record = existing ?? buildRecord(event, ctx.now());
    if (!existing)
      await patient(() =>
        ctx.store.put(key, JSON.stringify(record, null, 2) + '\n', { contentType: 'application/json' }),
      );
    const { mailer, alert } = ctx;
    if (!mailer || !alert) {
      ctx.log.warn(log, 'no mailer configured: dead-letter record written, no alert sent');
      return [];
    }
    if (record.alert.status !== 'pending') return [];
    const delivery = new AlertDelivery({ store: ctx.store, mailer, log: ctx.log, retryForMs, now: ctx.now });
    const id = `run-${event.runId}`;
    const mail = alertMail(record, alert.pipelineName, ctx.store.describe(key), alert.consoleUrl);
    await patient(() =>
      delivery.enqueue(id, key, {
        to: alert.to,
        from: alert.from,
        ...mail,
        tags: { runId: event.runId, partition: event.partition, stage: headerSafe(record.stage) },
      }),
    );
    // A first attempt now; if the mail service is down, the sweep keeps trying.
    const outcome = await delivery.attempt(id, true).catch((e: unknown) => {
      ctx.log.warn({ ...log, err: errorMessage(e) }, 'first alert attempt failed: the sweep will try again');
      return 'retry';
    });
    ctx.log.info({ ...log, alert: outcome }, outcome === 'sent' ? 'alert sent' : 'alert queued');
    return [];
  },
};

/** How long an alert is retried by default: a day. */
export const DEFAULT_ALERT_RETRY_MS = 24 * 3600_000;

async function readRecord(ctx: StageContext, key: string): Promise<DeadLetterRecord | null> {
  try {
    return JSON.parse((await ctx.store.get(key)).toString('utf8')) as DeadLetterRecord;
  } catch (e) {
    if (isBottleneckError(e) && e.code === 'BN_ERR_STORE_NOT_FOUND') return null;
    throw e;
  }
}
