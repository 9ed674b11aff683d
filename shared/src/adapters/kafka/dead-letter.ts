import type { IHeaders, KafkaMessage, Message } from 'kafkajs';
import { BottleneckError, errorClassOf, errorField, errorMessage } from '../../errors/index.js';
import { EnvelopeBase, makeEvent, type EventOf } from '../../events/index.js';
import type { DeadLetter, DeadLetterMessage } from '../../ports/bus.js';
import { redactSecrets } from '../../text/redact.js';

/** Headers every event message carries. */
export const EVENT_HEADERS = { type: 'event-type', version: 'schema-version' } as const;

/** Headers of a dead-letter message: where it came from and why it was given up. */
export const DEAD_LETTER_HEADERS = {
  topic: 'dlq-source-topic',
  partition: 'dlq-source-partition',
  offset: 'dlq-source-offset',
  group: 'dlq-group',
  errorClass: 'dlq-error-class',
  errorCode: 'dlq-error-code',
  errorMessage: 'dlq-error-message',
  attempts: 'dlq-attempts',
  failedAt: 'dlq-failed-at',
  /** Set when the value is a reference to the message, not the message (it was too large to copy). */
  reference: 'dlq-reference',
} as const;

/** Header values are bytes in a record of at most ~1 MB: keep error messages short. */
const MAX_HEADER_CHARS = 2_000;

/** What the Kafka bus records when it gives up on a message: the port's record, plus where it was. */
export interface KafkaDeadLetter extends DeadLetter {
  partition: number;
  /** Handler calls made (0: the message could not be decoded, the handler never saw it). */
  attempts: number;
  /** The error's BN_ERR_* code, when it has one. */
  code?: string;
}

/** A header's value as text (kafkajs gives Buffers, or arrays of them for repeated keys). */
export function headerText(headers: IHeaders | undefined, name: string): string | undefined {
  const v = headers?.[name];
  const one = Array.isArray(v) ? v[0] : v;
  return one === undefined ? undefined : one.toString();
}

/** Larger messages are dead-lettered as a reference (where they are, their size, their first bytes), not copied. */
export const MAX_DEAD_LETTER_COPY_BYTES = 256 * 1024;
/** How much of a message a reference keeps. */
const REFERENCE_HEAD_BYTES = 2_048;

/** Whether producing failed because the message is larger than the broker accepts. */
export function tooLarge(e: unknown): boolean {
  const cause = errorField(e, 'cause');
  const text = `${typeof errorField(e, 'type') === 'string' ? String(errorField(e, 'type')) : ''} ${errorMessage(e)} ${cause instanceof Error ? cause.message : ''}`;
  return /MESSAGE_TOO_LARGE|RECORD_LIST_TOO_LARGE|too large/i.test(text);
}

/**
 * The dead-letter message of a message that cannot be copied whole: its value is a reference to
 * where it still is (topic, partition, offset, until retention), its size and its first bytes, so
 * that the partition can move on and someone can still look at it.
 */
export function referenceOf(src: { topic: string; partition: number; message: KafkaMessage }, copy: Message): Message {
  const value = src.message.value ?? Buffer.alloc(0);
  const ref = {
    reference: true,
    topic: src.topic,
    partition: src.partition,
    offset: src.message.offset,
    bytes: value.length,
    head: value.subarray(0, REFERENCE_HEAD_BYTES).toString('utf8'),
    note: `the message was too large to copy to the dead-letter topic; it stays at ${src.topic} partition ${src.partition} offset ${src.message.offset} until the topic's retention removes it`,
  };
  return {
    key: copy.key ?? null,
    value: JSON.stringify(ref),
    headers: { ...(copy.headers ?? {}), [DEAD_LETTER_HEADERS.reference]: 'true' },
  };
}

/** A message of the dead-letter topic as the port describes it: where it came from and why, from its headers. */
export function deadLetterMessageOf(m: KafkaMessage): DeadLetterMessage {
  const h = (name: string) => headerText(m.headers, name) ?? null;
  const attempts = h(DEAD_LETTER_HEADERS.attempts);
  return {
    sourceTopic: h(DEAD_LETTER_HEADERS.topic) ?? 'unknown',
    sourcePartition: Number(h(DEAD_LETTER_HEADERS.partition) ?? -1),
    sourceOffset: h(DEAD_LETTER_HEADERS.offset) ?? '-1',
    group: h(DEAD_LETTER_HEADERS.group),
    errorClass: h(DEAD_LETTER_HEADERS.errorClass),
    errorCode: h(DEAD_LETTER_HEADERS.errorCode),
    errorMessage: h(DEAD_LETTER_HEADERS.errorMessage) ?? '',
    attempts: attempts === null ? null : Number(attempts),
    failedAt: h(DEAD_LETTER_HEADERS.failedAt),
    value: m.value?.toString('utf8') ?? '',
  };
}

/** The record of a message given up on, and the message to produce to the dead-letter topic. */
export function deadLetterOf(
  src: { topic: string; partition: number; message: KafkaMessage; group: string },
  error: unknown,
  attempts: number,
  now: Date,
): { record: KafkaDeadLetter; message: Message } {
  const message = redactSecrets(error instanceof Error ? error.message : String(error));
  const code = (error as { code?: unknown } | null)?.code;
  const record: KafkaDeadLetter = {
    topic: src.topic,
    partition: src.partition,
    group: src.group,
    offset: Number(src.message.offset),
    errorClass: errorClassOf(error),
    message,
    value: src.message.value?.toString('utf8') ?? '',
    attempts,
    ...(typeof code === 'string' ? { code } : {}),
  };
  const headers: IHeaders = {
    // Keep the source's own headers (event type, schema version) so the record can be replayed.
    ...(src.message.headers ?? {}),
    [DEAD_LETTER_HEADERS.topic]: src.topic,
    [DEAD_LETTER_HEADERS.partition]: String(src.partition),
    [DEAD_LETTER_HEADERS.offset]: src.message.offset,
    [DEAD_LETTER_HEADERS.group]: src.group,
    [DEAD_LETTER_HEADERS.errorClass]: record.errorClass,
    [DEAD_LETTER_HEADERS.errorMessage]:
      message.length > MAX_HEADER_CHARS ? `${message.slice(0, MAX_HEADER_CHARS)}...` : message,
    [DEAD_LETTER_HEADERS.attempts]: String(attempts),
    [DEAD_LETTER_HEADERS.failedAt]: now.toISOString(),
    ...(record.code ? { [DEAD_LETTER_HEADERS.errorCode]: record.code } : {}),
  };
  return { record, message: { key: src.message.key, value: src.message.value, headers } };
}

/**
 * The `failed` event for a message that is not a valid event, when enough of it can be read to
 * know its run and month (`runId` and `partition` valid); otherwise undefined: there is no run to
 * fail, the dead-letter record is all there is.
 */
export function poisonFailedEvent(
  raw: Buffer | null,
  stage: string,
  error: BottleneckError,
  now: Date,
): EventOf<'failed'> | undefined {
  let obj: unknown;
  try {
    obj = JSON.parse(raw?.toString('utf8') ?? '');
  } catch {
    return undefined;
  }
  if (!obj || typeof obj !== 'object') return undefined;
  const o = obj as Record<string, unknown>;
  const runId = EnvelopeBase.shape.runId.safeParse(o.runId);
  const partition = EnvelopeBase.shape.partition.safeParse(o.partition);
  if (!runId.success || !partition.success) return undefined;
  const trigger =
    typeof o.id === 'string' && typeof o.type === 'string' && typeof o.v === 'number' && typeof o.ts === 'string'
      ? { id: o.id, type: o.type, v: o.v, ts: o.ts }
      : undefined;
  return makeEvent(
    'failed',
    {
      runId: runId.data,
      partition: partition.data,
      materializations: {},
      checks: [],
      payload: {
        stage,
        code: error.code,
        errorClass: errorClassOf(error),
        message: error.message,
        retriable: false,
        failedAt: now.toISOString(),
        ...(trigger ? { trigger } : {}),
      },
    },
    now,
  );
}
