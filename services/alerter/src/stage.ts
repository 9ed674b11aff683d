import { BottleneckError, escapeHtml, layout, redactSecrets, withRetry, type EventOf, type PipelineEvent } from '@bottleneck/shared';
import type { StageContext, StageHandler } from '@bottleneck/shared/stage/context';

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
  alert: { status: 'pending' | 'sent' | 'failed'; attempts: number; id?: string; error?: string; at?: string };
}

function buildRecord(e: EventOf<'failed'>, now: Date): DeadLetterRecord {
  const p = e.payload;
  return {
    runId: e.runId, partition: e.partition, stage: p.stage, asset: p.asset ?? null, code: p.code, errorClass: p.errorClass,
    message: redactSecrets(p.message), retriable: p.retriable, location: p.location ?? null, failedAt: p.failedAt,
    recordedAt: now.toISOString(), triggeringEvent: p.trigger ?? null, failedEvent: { id: e.id, ts: e.ts },
    failedChecks: e.checks.filter((c) => !c.passed && c.severity === 'ERROR').map((c) => ({ asset: c.asset, check: c.check, metadata: c.metadata })),
    materializations: Object.fromEntries(Object.entries(e.materializations).map(([k, m]) => [k, { location: m.location, dataVersion: m.dataVersion }])),
    alert: { status: 'pending', attempts: 0 },
  };
}

/** The alert mail of a failed run: subject names the pipeline, stage and partition; the body is escaped. */
export function alertMail(r: DeadLetterRecord, pipelineName: string, deadLetterAt: string) {
  const subject = `[${pipelineName}] run failed at stage ${r.stage} for ${r.partition}`;
  const lines = [
    `The ${pipelineName} run ${r.runId} for ${r.partition} failed at stage ${r.stage}${r.asset ? ` (asset ${r.asset})` : ''}.`,
    '',
    `Failed at: ${r.failedAt}`,
    `Error: ${r.code}`,
    `Message: ${r.message}`,
    ...(r.location ? [`Where: ${Object.entries(r.location).map(([k, v]) => `${k} ${v}`).join(', ')}`] : []),
    `Dead-letter record: ${deadLetterAt}`,
    '',
    'Nothing was published for this run.',
  ];
  const html = `<p>${lines.map(escapeHtml).join('<br>\n')}</p>`;
  return { subject, text: lines.join('\n'), html };
}

/**
 * alerter: on failed, writes the dead-letter record first, then sends one alert per failed run
 * (retrying 429/5xx-like failures with backoff). When sending finally fails, the record says so
 * and the failure is logged; the alerter itself does not fail.
 */
export const alerterStage: StageHandler = {
  stage: 'alerter',
  consumes: ['failed'],
  async handle(event: PipelineEvent, ctx: StageContext): Promise<PipelineEvent[]> {
    if (event.type !== 'failed') return [];
    // A superseded run is not a failure: a newer run of the month has its files. No record, no mail.
    if (event.payload.code === 'BN_ERR_RUN_SUPERSEDED') {
      ctx.log.info({ runId: event.runId, partition: event.partition, stage: 'alerter' }, `superseded: ${event.payload.message}`);
      return [];
    }
    const key = layout.deadLetter(event.partition, event.runId);
    const record = buildRecord(event, ctx.now());
    const write = () => ctx.store.put(key, JSON.stringify(record, null, 2) + '\n', { contentType: 'application/json' });
    await withRetry(write);
    const log = { runId: event.runId, partition: event.partition, eventId: event.id, stage: 'alerter' };
    if (!ctx.mailer || !ctx.alert) {
      ctx.log.warn(log, 'no mailer configured: dead-letter record written, no alert sent');
      return [];
    }
    const mail = alertMail(record, ctx.alert.pipelineName, ctx.store.describe(key));
    try {
      const sent = await withRetry((attempt) => {
        record.alert.attempts = attempt + 1;
        return ctx.mailer!.send({ to: ctx.alert!.to, from: ctx.alert!.from, ...mail, tags: { runId: event.runId, partition: event.partition, stage: record.stage } });
      }, { retries: 4, initialDelayMs: 200 });
      record.alert = { ...record.alert, status: 'sent', id: sent.id, at: ctx.now().toISOString() };
    } catch (e) {
      record.alert = { ...record.alert, status: 'failed', error: redactSecrets(e instanceof Error ? e.message : String(e)), at: ctx.now().toISOString() };
      ctx.log.error({ ...log, code: e instanceof BottleneckError ? e.code : undefined, err: record.alert.error }, 'alert could not be sent; the dead-letter record keeps it');
    }
    await withRetry(write);
    return [];
  },
};
