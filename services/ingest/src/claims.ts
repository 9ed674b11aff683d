import { createHash } from 'node:crypto';
import {
  defined,
  INPUT_NAMES,
  isBottleneckError,
  layout,
  makeEvent,
  newRunId,
  stageEventId,
  type Bus,
  type EventOf,
  type InputName,
  type ObjectInfo,
  type ObjectStore,
} from '@bottleneck/shared';

/**
 * ingest's record that one version of a month's three files was taken up by a run: the month's
 * claims are numbered (state/ingest/<partition>/<seq>.json, written with If-None-Match, so two
 * replicas cannot both take the next number), and the highest one is what the month's published
 * set must follow. A claim holds the trigger it sends, pinned to the files' ETags: it is an outbox,
 * `pending` until the bus has taken the trigger, and sent again until then.
 */
export interface Claim {
  seq: number;
  runId: string;
  /** Hash of the three files' keys, ETags and sizes. */
  version: string;
  files: Record<InputName, { key: string; etag: string; bytes: number; modified: string }>;
  claimedAt: string;
  via: string;
  trigger: EventOf<'trigger'>;
  status: 'pending' | 'sent';
  sentAt?: string;
}

const claimKey = (partition: string, seq: number) =>
  `${layout.ingestClaimsPrefix(partition)}${String(seq).padStart(8, '0')}.json`;

/** The month's latest claim, or null. */
export async function latestClaim(store: ObjectStore, partition: string): Promise<Claim | null> {
  const keys = (await store.list(layout.ingestClaimsPrefix(partition)))
    .map((o) => o.key)
    .filter((k) => /\/\d{8}\.json$/.test(k));
  // list() gives the keys sorted (the store port's contract): the last one holds the highest number.
  const last = keys.at(-1);
  if (!last) return null;
  return JSON.parse((await store.get(last)).toString('utf8')) as Claim;
}

/** The version of a set of files: their keys, ETags and sizes. */
export function versionOf(files: readonly ObjectInfo[]): string {
  return createHash('sha256')
    .update(files.map((o) => `${o.key}:${o.etag}:${o.bytes}`).join('\n'))
    .digest('hex')
    .slice(0, 32);
}

export type CheckOutcome =
  | { state: 'waiting'; missing: InputName[] }
  | { state: 'settling'; recheckInMs: number }
  | { state: 'current'; claim: Claim }
  | { state: 'claimed'; claim: Claim }
  | { state: 'taken' };

export interface CheckOptions {
  now: Date;
  /** Files must be unchanged this long before a run takes them (files arriving together give one run). */
  settleMs: number;
  via: string;
}

/**
 * Looks at a month's files in incoming/ and decides: wait for the missing ones, wait for them to
 * settle, nothing to do (the latest claim is this version), or claim this version for a new run.
 * Following the latest files, not every version ever seen: reverting a file to an earlier version
 * is a change, and starts a run.
 */
export async function checkMonth(store: ObjectStore, partition: string, o: CheckOptions): Promise<CheckOutcome> {
  const objects = await store.list(layout.incomingPrefix(partition));
  const byName = new Map<InputName, ObjectInfo>();
  for (const n of INPUT_NAMES) {
    const obj = objects.find((x) => x.key === layout.incoming(partition, n));
    if (obj) byName.set(n, obj);
  }
  const missing = INPUT_NAMES.filter((n) => !byName.has(n));
  if (missing.length) return { state: 'waiting', missing };
  // Stryker disable next-line StringLiteral: unreachable message, the missing files returned above.
  const file = (n: InputName) => defined(byName.get(n), `${n} in incoming/${partition}/`);
  const present = INPUT_NAMES.map(file);
  const youngest = Math.max(...present.map((p) => p.modified.getTime()));
  const quietFor = o.now.getTime() - youngest;
  if (quietFor < o.settleMs) return { state: 'settling', recheckInMs: o.settleMs - quietFor };
  const version = versionOf(present);
  const latest = await latestClaim(store, partition);
  if (latest?.version === version) return { state: 'current', claim: latest };
  const seq = (latest?.seq ?? 0) + 1;
  const runId = newRunId(partition, o.now);
  const files = Object.fromEntries(
    INPUT_NAMES.map((n) => {
      const p = file(n);
      return [n, { key: p.key, etag: p.etag, bytes: p.bytes, modified: p.modified.toISOString() }];
    }),
  ) as Claim['files'];
  const trigger = makeEvent(
    'trigger',
    {
      runId,
      partition,
      materializations: {},
      checks: [],
      payload: {
        source: 'upload',
        files: Object.fromEntries(INPUT_NAMES.map((n) => [n, { key: files[n].key, etag: files[n].etag }])) as never,
      },
    },
    o.now,
    stageEventId(runId, 'trigger'),
  );
  const claim: Claim = {
    seq,
    runId,
    version,
    files,
    claimedAt: o.now.toISOString(),
    via: o.via,
    trigger,
    status: 'pending',
  };
  try {
    await store.put(claimKey(partition, seq), JSON.stringify(claim, null, 2) + '\n', {
      ifNoneMatch: true,
      contentType: 'application/json',
    });
  } catch (e) {
    // Another replica took this number first: its run has the month.
    if (isBottleneckError(e) && e.details?.conflict) return { state: 'taken' };
    throw e;
  }
  return { state: 'claimed', claim };
}

/**
 * Sends a claim's trigger and records that the bus took it. A failure leaves the claim pending,
 * for `sendPending` to send again: an upload is never lost because Kafka was down when it landed.
 */
export async function sendClaim(store: ObjectStore, bus: Bus, claim: Claim, now: Date): Promise<Claim> {
  await bus.publish(claim.trigger);
  const sent: Claim = { ...claim, status: 'sent', sentAt: now.toISOString() };
  await store.put(claimKey(claim.trigger.partition, claim.seq), JSON.stringify(sent, null, 2) + '\n', {
    contentType: 'application/json',
  });
  return sent;
}

/**
 * The outbox sweep: every month's latest claim still pending after `graceMs` (its sender died, or
 * the bus was down) has its trigger sent again. The trigger's id is fixed by the claim: a second
 * send of the same trigger is recognised downstream, never a second run.
 */
export async function sendPending(store: ObjectStore, bus: Bus, now: Date, graceMs: number): Promise<Claim[]> {
  const months = new Set(
    (await store.list(layout.ingestClaimsRoot))
      .map((o) => o.key.split('/')[2])
      .filter((p): p is string => Boolean(p && /^\d{4}-\d{2}$/.test(p))),
  );
  const sent: Claim[] = [];
  // The months in key order (list() sorts by key): the oldest month's trigger goes first.
  for (const partition of months) {
    const claim = await latestClaim(store, partition);
    if (claim?.status !== 'pending' || now.getTime() - Date.parse(claim.claimedAt) < graceMs) continue;
    sent.push(await sendClaim(store, bus, claim, now));
  }
  return sent;
}
