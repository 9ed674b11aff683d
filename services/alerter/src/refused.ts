import { escapeHtml, isBottleneckError, type ObjectStore } from '@bottleneck/shared';
import type { DeadLetterMessage } from '@bottleneck/shared/ports/bus';
import type { MailMessage } from '@bottleneck/shared/ports/mailer';
import type { AlertDelivery, AlertState, PendingAlert } from './delivery.js';
import { busDeadLetter } from './dead-letters.js';
import { headerSafe } from './stage.js';

/**
 * Refused events: messages the bus dead-lettered because of what they are (unsigned, signed by no
 * key of ours, naming another run's or month's assets, not an event at all). Each is recorded once
 * under refused/<month named>/ (the catalog lists it under that month, never as a run), and they
 * are alerted in groups: one mail per kind and hour, composed when it is sent (after
 * BN_ALERT_GROUP_MS) with the count so far and the first few. Whoever can write to a topic can
 * no longer flood the mailbox.
 */
export type RefusalKind = 'unsigned' | 'bad-signature' | 'invalid';

export const REFUSED_PREFIX = 'refused/';
/**
 * The hourly groups: refused/_hourly/<kind>-<yyyymmddThh>.json (the group and its alert), and one
 * member per refused event under refused/_hourly/<kind>-<yyyymmddThh>/ (the count is how many
 * members there are: each alerter writes its own, so two replicas never lose a count).
 */
export const HOURLY_PREFIX = `${REFUSED_PREFIX}_hourly/`;
/** How many refused events a grouped mail lists. */
export const FIRST_FEW = 5;

/** The kind of refusal of a dead letter, or null when it is not a refusal (a handler kept failing). */
export function refusalKind(code: string | null): RefusalKind | null {
  if (code === 'BN_ERR_EVENT_UNSIGNED') return 'unsigned';
  if (code === 'BN_ERR_EVENT_SIGNATURE') return 'bad-signature';
  if (code === 'BN_ERR_EVENT_INVALID') return 'invalid';
  return null;
}

const WHY: Record<RefusalKind, string> = {
  unsigned: 'carried no signature',
  'bad-signature': 'carried a signature no key of BN_EVENT_KEYS made',
  invalid: 'was not a valid event of its run (schema, or assets of another run or month)',
};

/** What the catalog reads of a refused event. */
export interface RefusedEventRecord {
  kind: 'refused-event';
  reason: RefusalKind;
  code: string;
  /** Why, in words (the consumer's error). */
  why: string;
  sourceTopic: string;
  sourcePartition: number;
  sourceOffset: number;
  group: string | null;
  /** What the event claimed (never trusted: shown, not used). */
  claimed: { id: string | null; type: string | null; runId: string | null; partition: string | null };
  value: string;
  recordedAt: string;
}

/** One refused event of an hour's group, as its mail lists it. */
export interface RefusedEntry {
  key: string;
  partition: string | null;
  eventId: string | null;
  why: string;
}

/** One hour's group of refused events of one kind: what its mail says (count and first few as of when it was written; the mail counts the members). */
export interface RefusedHourRecord {
  kind: 'refused-hour';
  reason: RefusalKind;
  hour: string;
  count: number;
  first: RefusedEntry[];
  alert: AlertState;
}

/** Where an hour's group keeps its members: one object per refused event, named by where it came from, in order. */
const membersPrefix = (hourKey: string) => `${hourKey.replace(/\.json$/, '')}/`;
const memberName = (r: RefusedEventRecord) =>
  `${r.sourceTopic}-${String(r.sourcePartition).padStart(6, '0')}-${String(r.sourceOffset).padStart(20, '0')}.json`;

/** The refused record of a dead letter and its key (by where the message came from: a redelivery lands on the same key). */
export function refusedRecord(
  dl: DeadLetterMessage,
  reason: RefusalKind,
  now: Date,
): { key: string; record: RefusedEventRecord } {
  const { record: bus } = busDeadLetter(dl, now);
  let id: string | null = null;
  let type: string | null = null;
  try {
    const doc = JSON.parse(dl.value) as { id?: unknown; type?: unknown };
    if (typeof doc.id === 'string') id = doc.id.slice(0, 200);
    if (typeof doc.type === 'string') type = doc.type.slice(0, 50);
  } catch {
    /* not JSON */
  }
  const record: RefusedEventRecord = {
    kind: 'refused-event',
    reason,
    code: dl.errorCode ?? 'unknown',
    why: bus.message,
    sourceTopic: bus.sourceTopic,
    sourcePartition: bus.sourcePartition,
    sourceOffset: bus.sourceOffset,
    group: bus.group,
    claimed: { id, type, runId: bus.runId, partition: bus.partition },
    value: bus.value,
    recordedAt: bus.recordedAt,
  };
  const key = `${REFUSED_PREFIX}${bus.partition ?? 'unknown'}/bus-${bus.sourceTopic}-${bus.sourcePartition}-${bus.sourceOffset}.json`;
  return { key, record };
}

/** The hour an instant falls in, UTC: `20261206T03`. */
export function hourOf(d: Date): string {
  return d.toISOString().slice(0, 13).replace(/-/g, '');
}

const conflict = (e: unknown) => isBottleneckError(e) && Boolean(e.details?.conflict);

async function readJson<T>(store: ObjectStore, key: string): Promise<T | null> {
  try {
    return JSON.parse((await store.get(key)).toString('utf8')) as T;
  } catch (e) {
    if (isBottleneckError(e) && e.code === 'BN_ERR_STORE_NOT_FOUND') return null;
    throw e;
  }
}

/**
 * Records a refused event and counts it in its hour's group; the first of a kind in an hour queues
 * the group's mail (sent after `groupMs`, composed then). A redelivered dead letter finds its record
 * and counts nothing twice. Returns whether it was new.
 */
export async function recordRefused(
  store: ObjectStore,
  delivery: AlertDelivery,
  dl: DeadLetterMessage,
  reason: RefusalKind,
  o: { now: Date; groupMs: number; placeholder: MailMessage },
): Promise<boolean> {
  const { key, record } = refusedRecord(dl, reason, o.now);
  try {
    await store.put(key, JSON.stringify(record, null, 2) + '\n', {
      ifNoneMatch: true,
      contentType: 'application/json',
    });
  } catch (e) {
    if (conflict(e)) return false;
    throw e;
  }
  const hour = hourOf(o.now);
  const hourKey = `${HOURLY_PREFIX}${reason}-${hour}.json`;
  const entry: RefusedEntry = { key, partition: record.claimed.partition, eventId: record.claimed.id, why: record.why };
  // Counted by its own object (no read-modify-write of a shared count: two alerters would lose one).
  await store.put(membersPrefix(hourKey) + memberName(record), JSON.stringify(entry) + '\n', {
    contentType: 'application/json',
  });
  const fresh: RefusedHourRecord = {
    kind: 'refused-hour',
    reason,
    hour,
    count: 1,
    first: [entry],
    alert: { status: 'pending', attempts: 0 },
  };
  try {
    await store.put(hourKey, JSON.stringify(fresh, null, 2) + '\n', {
      ifNoneMatch: true,
      contentType: 'application/json',
    });
    await delivery.enqueue(`refused-${reason}-${hour}`, hourKey, o.placeholder, { delayMs: o.groupMs, digest: true });
    return true;
  } catch (e) {
    if (!conflict(e)) throw e;
  }
  // Not the first this hour: its member counts it; the group's mail is already queued.
  return true;
}

/** The mail of an hour's group of refused events, from its record as it is when the mail is sent. */
export function refusedMail(
  h: RefusedHourRecord,
  alert: { to: string[]; from: string; pipelineName: string },
  describe: (key: string) => string,
): MailMessage {
  const at = `${h.hour.slice(0, 4)}-${h.hour.slice(4, 6)}-${h.hour.slice(6, 8)} ${h.hour.slice(9, 11)}:00 UTC`;
  const lines = [
    `${h.count} event${h.count === 1 ? '' : 's'} refused in the hour from ${at}: each ${WHY[h.reason]}.`,
    'None of them changed any month: each was dead-lettered and recorded under refused/ (the console lists them under the month they name).',
    '',
    `The first ${Math.min(h.first.length, FIRST_FEW)}:`,
    ...h.first.map(
      (f) => `- ${f.partition ?? 'no month'}${f.eventId ? `, event ${f.eventId}` : ''}: ${f.why} (${describe(f.key)})`,
    ),
    '',
    'Further ones this hour are counted in the console, not mailed. If you did not expect them, someone can write to a pipeline topic: check the Kafka ACLs and BN_EVENT_KEYS (README, "Event signatures").',
  ];
  return {
    to: alert.to,
    from: alert.from,
    subject: headerSafe(`[${alert.pipelineName}] ${h.count} refused event${h.count === 1 ? '' : 's'} (${h.reason})`),
    text: lines.join('\n'),
    html: `<p>${lines.map(escapeHtml).join('<br>\n')}</p>`,
    tags: { kind: 'refused-events', reason: h.reason },
  };
}

/** The composer of grouped alerts for AlertDelivery: reads the hour's record at send time. */
export function refusedComposer(
  store: ObjectStore,
  alert: { to: string[]; from: string; pipelineName: string },
): (p: PendingAlert) => Promise<MailMessage> {
  return async (p) => {
    const h = await readJson<RefusedHourRecord>(store, p.recordKey);
    if (!h) return p.mail;
    const members = (await store.list(membersPrefix(p.recordKey))).filter((o) => o.key.endsWith('.json'));
    const first = (
      await Promise.all(members.slice(0, FIRST_FEW).map((o) => readJson<RefusedEntry>(store, o.key)))
    ).filter((e): e is RefusedEntry => e !== null);
    return refusedMail(members.length ? { ...h, count: members.length, first } : h, alert, (k) => store.describe(k));
  };
}
