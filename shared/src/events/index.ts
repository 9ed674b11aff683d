import { randomBytes, randomUUID } from 'node:crypto';
import { z } from './zod.js';
import { createError, errorMessage } from '../errors/index.js';
import { TriggerEvent } from './types/trigger.js';
import { FileArrivedEvent } from './types/file-arrived.js';
import { CleanedEvent } from './types/cleaned.js';
import { ValidatedEvent } from './types/validated.js';
import { MergedEvent } from './types/merged.js';
import { AnalysedEvent } from './types/analysed.js';
import { PublishedEvent } from './types/published.js';
import { FailedEvent } from './types/failed.js';
import type { EventKeys } from './sign.js';

export * from './envelope.js';
export * from './sign.js';
export {
  TriggerEvent,
  FileArrivedEvent,
  CleanedEvent,
  ValidatedEvent,
  MergedEvent,
  AnalysedEvent,
  PublishedEvent,
  FailedEvent,
};

/** Every event the pipeline knows, discriminated by `type`. */
export const PipelineEventSchema = z.discriminatedUnion('type', [
  TriggerEvent,
  FileArrivedEvent,
  CleanedEvent,
  ValidatedEvent,
  MergedEvent,
  AnalysedEvent,
  PublishedEvent,
  FailedEvent,
]);
export type PipelineEvent = z.infer<typeof PipelineEventSchema>;
export type EventType = PipelineEvent['type'];
export type EventOf<T extends EventType> = Extract<PipelineEvent, { type: T }>;

/** Stage events in the order a successful run emits them, then `failed`. */
export const EVENT_TYPES = [
  'trigger',
  'file-arrived',
  'cleaned',
  'validated',
  'merged',
  'analysed',
  'published',
  'failed',
] as const satisfies readonly EventType[];

function describe(issues: z.core.$ZodIssue[]): string {
  return issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}

/**
 * Validates an event, when producing and again when consuming: serialization round-trips change
 * things. Throws BN_ERR_EVENT_INVALID naming the fields at fault.
 */
export function parseEvent(raw: unknown): PipelineEvent {
  const r = PipelineEventSchema.safeParse(raw);
  if (!r.success) {
    const type = raw && typeof raw === 'object' && 'type' in raw ? String(raw.type) : '?';
    throw createError(
      'BN_ERR_EVENT_INVALID',
      `event of type "${type}" does not match its schema: ${describe(r.error.issues)}`,
    );
  }
  return r.data;
}

/** Same as parseEvent, from the JSON text of a message. */
export function decodeEvent(text: string): PipelineEvent {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw createError('BN_ERR_EVENT_INVALID', `message is not JSON: ${errorMessage(e)}`);
  }
  return parseEvent(raw);
}

/**
 * Decodes a consumed message: JSON, then (with keys) its signature checked and removed, then the
 * schema. Without keys a `sig` is dropped unchecked (local use). Throws BN_ERR_EVENT_INVALID,
 * BN_ERR_EVENT_UNSIGNED or BN_ERR_EVENT_SIGNATURE.
 */
export function decodeSignedEvent(text: string, keys: EventKeys | null): PipelineEvent {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw createError('BN_ERR_EVENT_INVALID', `message is not JSON: ${errorMessage(e)}`);
  }
  if (keys) return parseEvent(keys.verify(raw));
  if (raw && typeof raw === 'object' && 'sig' in raw) {
    const { sig: _sig, ...rest } = raw as Record<string, unknown>;
    return parseEvent(rest);
  }
  return parseEvent(raw);
}

type Fields<T extends EventType> = Omit<EventOf<T>, 'id' | 'ts' | 'v' | 'type'>;

/**
 * Builds and validates a new event of `type`.
 *
 * @example
 * const e = makeEvent('merged', { runId, partition, materializations, checks, payload: {} });
 */
export function makeEvent<T extends EventType>(
  type: T,
  fields: Fields<T>,
  now: Date = new Date(),
  id: string = randomUUID(),
): EventOf<T> {
  const ts = now.toISOString();
  // A trigger starts a run: its time is the run's start, which every later event carries.
  const start = fields.runStartedAt ?? (type === 'trigger' ? ts : undefined);
  return parseEvent({ ...fields, ...(start ? { runStartedAt: start } : {}), type, v: 1, id, ts }) as EventOf<T>;
}

/**
 * The id of the event a stage emits for a run: the same whenever the stage emits it again (a
 * crash after publishing, before its marker), so a redelivered duplicate is recognisably the same
 * event, and consumers that key their effects by it do them once.
 */
export function stageEventId(runId: string, type: EventType, stage?: string): string {
  return stage ? `${runId}.${type}.${stage}` : `${runId}.${type}`;
}

/** The fields a stage carries from the event it handled into the one it emits. */
export function carry(e: PipelineEvent) {
  return {
    runId: e.runId,
    partition: e.partition,
    materializations: { ...e.materializations },
    checks: [...e.checks],
    ...(e.expectations ? { expectations: e.expectations } : {}),
    ...(e.runStartedAt ? { runStartedAt: e.runStartedAt } : {}),
    ...(e.parentRunId ? { parentRunId: e.parentRunId } : {}),
  };
}

/** A run id that sorts by time: `<partition>-<yyyymmddThhmmss>-<6 hex>`. */
export function newRunId(partition: string, now = new Date()): string {
  return `${partition}-${now.toISOString().replace(/[-:]/g, '').slice(0, 15)}-${randomBytes(3).toString('hex')}`;
}

/** The month (`YYYY-MM`) an instant falls in, in a time zone (BottleNeck's: Europe/Paris). */
export function partitionOf(instant: Date, timeZone = 'Europe/Paris'): string {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit' }).formatToParts(
    instant,
  );
  const part = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? '';
  return `${part('year')}-${part('month')}`;
}
