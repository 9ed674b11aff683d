import type { DeadLetterInfo, RefusedEvent, UnrecognisedUpload } from './types.js';

/**
 * What the catalog takes of each kind of record, as pure functions of the parsed object (and its
 * key and store time): a record of another shape is ignored (null), never trusted.
 */

/** A failed run's dead-letter record (the alerter's, dead-letter/<month>/<run>.json): run id and what it says. */
export function deadLetterOf(key: string, r: unknown): { runId: string; info: DeadLetterInfo } | null {
  if (!r || typeof r !== 'object') return null;
  const d = r as { runId?: unknown; code?: unknown; message?: unknown; recordedAt?: unknown; alert?: unknown };
  if (typeof d.runId !== 'string') return null;
  return {
    runId: d.runId,
    info: {
      key,
      ...(typeof d.code === 'string' ? { code: d.code } : {}),
      ...(typeof d.message === 'string' ? { message: d.message } : {}),
      ...(typeof d.recordedAt === 'string' ? { recordedAt: d.recordedAt } : {}),
      ...(d.alert && typeof d.alert === 'object' ? { alert: d.alert as NonNullable<DeadLetterInfo['alert']> } : {}),
    },
  };
}

/** A pending alert of a run (state/alerts/run-<run>.json): the run id and the alert's state. */
export function pendingRunAlertOf(
  r: unknown,
): { runId: string; alert: { status: string; attempts: number; at?: string; error?: string } } | null {
  if (!r || typeof r !== 'object') return null;
  const a = r as { id?: unknown; attempts?: unknown; state?: unknown; lastError?: unknown; nextAttemptAt?: unknown };
  if (typeof a.id !== 'string' || !a.id.startsWith('run-')) return null;
  return {
    runId: a.id.slice(4),
    alert: {
      status: a.state === 'sending' ? 'sending' : 'pending',
      attempts: typeof a.attempts === 'number' ? a.attempts : 0,
      ...(typeof a.nextAttemptAt === 'string' ? { at: a.nextAttemptAt } : {}),
      ...(typeof a.lastError === 'string' ? { error: a.lastError } : {}),
    },
  };
}

const KINDS = ['unsigned', 'bad-signature', 'invalid'] as const;
const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;

/** A refused event recorded by the alerter (refused/<month>/...): under the month it names, with why. */
export function refusedOf(key: string, recordedAt: Date, r: unknown): RefusedEvent | null {
  if (!r || typeof r !== 'object') return null;
  const d = r as {
    kind?: unknown;
    reason?: unknown;
    why?: unknown;
    claimed?: { id?: unknown; type?: unknown; runId?: unknown; partition?: unknown };
  };
  if (d.kind !== 'refused-event' || !(KINDS as readonly unknown[]).includes(d.reason)) return null;
  const c = d.claimed ?? {};
  const str = (v: unknown) => (typeof v === 'string' ? v : null);
  const partition = str(c.partition);
  return {
    kind: d.reason as RefusedEvent['kind'],
    partition: partition && MONTH.test(partition) ? partition : 'unknown',
    eventId: str(c.id),
    eventType: str(c.type),
    runId: str(c.runId),
    why: str(d.why) ?? 'refused',
    recordedAt: recordedAt.toISOString(),
    key,
  };
}

/** An unrecognised upload recorded by ingest's watcher (state/unrecognised/<hash>.json). */
export function unrecognisedOf(r: unknown): UnrecognisedUpload | null {
  if (!r || typeof r !== 'object') return null;
  const u = r as {
    key?: unknown;
    bytes?: unknown;
    modified?: unknown;
    seenAt?: unknown;
    why?: unknown;
    alert?: unknown;
  };
  if (typeof u.key !== 'string' || typeof u.why !== 'string' || typeof u.seenAt !== 'string') return null;
  const alert =
    u.alert && typeof u.alert === 'object' ? (u.alert as { status?: unknown; attempts?: unknown; at?: unknown }) : null;
  return {
    key: u.key,
    bytes: typeof u.bytes === 'number' ? u.bytes : 0,
    modified: typeof u.modified === 'string' ? u.modified : u.seenAt,
    seenAt: u.seenAt,
    why: u.why,
    alert:
      alert && typeof alert.status === 'string'
        ? {
            status: alert.status,
            attempts: typeof alert.attempts === 'number' ? alert.attempts : 0,
            ...(typeof alert.at === 'string' ? { at: alert.at } : {}),
          }
        : null,
  };
}
