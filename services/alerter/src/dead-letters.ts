import { errorMessage, escapeHtml, isBottleneckError, redactSecrets, type ObjectStore } from '@bottleneck/shared';
import type { DeadLetterMessage } from '@bottleneck/shared/ports/bus';
import { AlertDelivery, type AlertState } from './delivery.js';
import { headerSafe } from './stage.js';
import { recordRefused, refusalKind } from './refused.js';
import type { ServiceExtra, ServiceRuntime } from '@bottleneck/shared/service/run';
import type { Logger } from '@bottleneck/shared/stage/context';

/** What the alerter records of a message the bus gave up on. */
export interface BusDeadLetterRecord {
  kind: 'bus-dead-letter';
  sourceTopic: string;
  sourcePartition: number;
  sourceOffset: number;
  group: string | null;
  errorClass: string | null;
  errorCode: string | null;
  message: string;
  attempts: number | null;
  failedAt: string | null;
  runId: string | null;
  partition: string | null;
  /** The message as it was, cut at 64 KiB, secrets redacted. */
  value: string;
  recordedAt: string;
  alert: AlertState;
}

const MAX_VALUE = 64 * 1024;

/** The record of one dead-letter message and its key in the store (keyed by where it came from, so a redelivery lands on the same key). */
export function busDeadLetter(dl: DeadLetterMessage, now: Date): { key: string; record: BusDeadLetterRecord } {
  const value = dl.value;
  let runId: string | null = null;
  let partition: string | null = null;
  try {
    const doc = JSON.parse(value) as { runId?: unknown; partition?: unknown };
    if (typeof doc.runId === 'string' && /^[A-Za-z0-9._-]{1,128}$/.test(doc.runId)) runId = doc.runId;
    if (typeof doc.partition === 'string' && /^\d{4}-(0[1-9]|1[0-2])$/.test(doc.partition)) partition = doc.partition;
  } catch {
    /* not JSON: kept as text */
  }
  const topic = dl.sourceTopic.replace(/[^A-Za-z0-9._-]/g, '_');
  const offset = Number(dl.sourceOffset);
  const record: BusDeadLetterRecord = {
    kind: 'bus-dead-letter',
    sourceTopic: topic,
    sourcePartition: dl.sourcePartition,
    sourceOffset: offset,
    group: dl.group,
    errorClass: dl.errorClass,
    errorCode: dl.errorCode,
    message: redactSecrets(dl.errorMessage),
    attempts: dl.attempts,
    failedAt: dl.failedAt,
    runId,
    partition,
    value: redactSecrets(value.length > MAX_VALUE ? `${value.slice(0, MAX_VALUE)}...` : value),
    recordedAt: now.toISOString(),
    alert: { status: 'pending', attempts: 0 },
  };
  return { key: `dead-letter/${partition ?? 'unknown'}/bus-${topic}-${dl.sourcePartition}-${offset}.json`, record };
}

/**
 * Records one dead letter and queues its alert: a refused event under refused/<month>/ (counted in
 * its kind's hourly group, whose one mail is composed when sent), any other under dead-letter/
 * with one alert, attempted at once. A redelivered dead letter records and queues nothing twice.
 * The services' alerter and the embedded engines (`bottleneck run`, `bottleneck ui`) both use it.
 */
export async function handleDeadLetter(
  store: ObjectStore,
  delivery: AlertDelivery,
  alert: { to: string[]; from: string; pipelineName: string },
  log: Logger,
  dl: DeadLetterMessage,
  groupMs: number,
): Promise<void> {
  const reason = refusalKind(dl.errorCode);
  if (reason) {
    // A refused event: its own record, counted in its hour's group; no mail of its own.
    const fresh = await recordRefused(store, delivery, dl, reason, {
      now: new Date(),
      groupMs,
      placeholder: { to: alert.to, from: alert.from, subject: 'refused events', text: '', html: '' },
    });
    log.warn(
      { topic: dl.sourceTopic, offset: dl.sourceOffset, code: dl.errorCode, fresh },
      'refused event recorded (alerted in the hourly group)',
    );
    return;
  }
  const { key, record } = busDeadLetter(dl, new Date());
  // The claim: the first delivery writes the record; a redelivery finds it and queues nothing new.
  try {
    await store.put(key, JSON.stringify(record, null, 2) + '\n', {
      ifNoneMatch: true,
      contentType: 'application/json',
    });
  } catch (e) {
    if (!(isBottleneckError(e) && e.details?.conflict)) throw e;
  }
  const lines = [
    `A message on ${record.sourceTopic} (partition ${record.sourcePartition}, offset ${record.sourceOffset}) could not be handled by ${record.group ?? 'a consumer'} and was set aside.`,
    '',
    `Error: ${record.errorCode ?? record.errorClass ?? 'unknown'}: ${record.message}`,
    ...(record.runId ? [`Run: ${record.runId} (${record.partition})`] : []),
    `Dead-letter record: ${store.describe(key)}`,
  ];
  const id = `bus-${record.sourceTopic}-${record.sourcePartition}-${record.sourceOffset}`;
  const queued = await delivery.enqueue(id, key, {
    to: alert.to,
    from: alert.from,
    subject: headerSafe(`[${alert.pipelineName}] message dead-lettered on ${record.sourceTopic}`),
    text: lines.join('\n'),
    html: `<p>${lines.map(escapeHtml).join('<br>\n')}</p>`,
    tags: { kind: 'bus-dead-letter', topic: record.sourceTopic },
  });
  if (queued)
    await delivery
      .attempt(id, true)
      .catch((e: unknown) =>
        log.warn({ key, err: errorMessage(e) }, 'first alert attempt failed: the sweep will try again'),
      );
}

/**
 * The alerter's second input: the bus's dead-letter topic (messages no stage could handle,
 * poison messages). Each is recorded under dead-letter/ (before any mail) and alerted once; a
 * refused event (unsigned, wrongly signed, invalid) is recorded under refused/ and alerted in its
 * kind's hourly group (refused.ts).
 */
export async function startDeadLetterConsumer(
  rt: ServiceRuntime,
  delivery: AlertDelivery,
  groupMs: number,
): Promise<ServiceExtra> {
  const { bus, store, ctx, log } = rt;
  if (!ctx.alert) throw new Error('the alerter needs its alert settings');
  const alert = ctx.alert;
  let handled = 0;
  // At least once: a crash mid-way redelivers the message, and the record's claim dedupes it.
  const sub = await bus.subscribeDeadLetters({
    group: 'bottleneck-alerter-dead-letters',
    handler: async (dl) => {
      await handleDeadLetter(store, delivery, alert, log, dl, groupMs);
      handled++;
    },
  });
  return {
    stop: () => sub.close(),
    status: () => ({ deadLetterTopic: { handled } }),
  };
}
