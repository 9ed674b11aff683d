import { INPUT_NAMES, layout, parseIncomingKey, type InputName } from '../keys.js';
import type { ObjectStore } from '../ports/object-store.js';
import { isBottleneckError } from '../errors/index.js';
import { SOURCES } from '../sources.js';

/**
 * Lateness: a month's three exports are due by day `BN_FILES_DUE_DAY` of the following month
 * (November's by 5 December), in the schedule's time zone (Europe/Paris). A month is late once
 * that day is over while some of its files are missing and nothing is published for it.
 */
export const DUE_TIME_ZONE = 'Europe/Paris';

const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;

/** The months from `from` to `to`, both included (YYYY-MM, `from` <= `to`). */
function months(from: string, to: string): string[] {
  const index = (p: string) => Number(p.slice(0, 4)) * 12 + Number(p.slice(5, 7)) - 1;
  const out: string[] = [];
  for (let i = index(from); i <= index(to); i++)
    out.push(`${Math.floor(i / 12)}-${String((i % 12) + 1).padStart(2, '0')}`);
  return out;
}

/** UTC offset of `tz` at instant `t`, ms. */
function offsetMs(t: number, tz: string): number {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    })
      .formatToParts(new Date(t))
      .map((p) => [p.type, p.value]),
  );
  const asUtc = Date.UTC(
    Number(parts.year),
    Number(parts.month) - 1,
    Number(parts.day),
    Number(parts.hour),
    Number(parts.minute),
    Number(parts.second),
  );
  return asUtc - Math.floor(t / 1000) * 1000;
}

/** Midnight starting day `d` of month `m` (1-12) of year `y` in `tz`, as an instant. */
function zonedMidnight(y: number, m: number, d: number, tz: string): Date {
  const guess = Date.UTC(y, m - 1, d);
  const first = guess - offsetMs(guess, tz);
  return new Date(guess - offsetMs(first, tz));
}

/** When month `partition` becomes late: the end of day `dueDay` of the following month (midnight after it). */
export function lateFrom(partition: string, dueDay: number, tz = DUE_TIME_ZONE): Date {
  const y = Number(partition.slice(0, 4));
  const m = Number(partition.slice(5, 7));
  const [ny, nm] = m === 12 ? [y + 1, 1] : [y, m + 1];
  return zonedMidnight(ny, nm, dueDay + 1, tz);
}

/** The day the files were due, in words: "5 December 2026". */
export function dueDayWords(partition: string, dueDay: number): string {
  const y = Number(partition.slice(0, 4));
  const m = Number(partition.slice(5, 7));
  const [ny, nm] = m === 12 ? [y + 1, 1] : [y, m + 1];
  const month = new Date(Date.UTC(ny, nm - 1, 1)).toLocaleString('en-GB', { month: 'long', timeZone: 'UTC' });
  return `${dueDay} ${month} ${ny}`;
}

export interface LateMonth {
  partition: string;
  /** The files still missing (erp, web, liaison), in that order. */
  missing: InputName[];
  /** When it became late (ISO 8601). */
  lateSince: string;
  /** "liaison.xlsx was due by 5 December 2026 and has not arrived" */
  words: string;
}

/** What lateness needs to know of the store: the months it knows of, their files, and which are published or dismissed. */
export interface LatenessFacts {
  /** Months the store knows (runs, files, published sets, claims): lateness starts at the earliest. */
  known: readonly string[];
  /** The files present in incoming/, by month. */
  present: ReadonlyMap<string, ReadonlySet<InputName>>;
  published: ReadonlySet<string>;
  dismissed?: ReadonlySet<string>;
}

/**
 * The months late at `now`: every month from the earliest the store knows to the last one whose
 * due day is over, with a file missing and nothing published (dismissed months left alone). A
 * month nothing arrived for is late too: that is the case no run would ever show.
 */
export function lateMonths(f: LatenessFacts, now: Date, dueDay: number, tz = DUE_TIME_ZONE): LateMonth[] {
  const first = f.known.filter((p) => MONTH.test(p)).sort()[0];
  if (!first) return [];
  // The last month that can be late at `now`: the one before the month before now's, or the month before now's when its due day is over.
  const nowMonth = new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit' })
    .format(now)
    .slice(0, 7);
  const y = Number(nowMonth.slice(0, 4));
  const m = Number(nowMonth.slice(5, 7));
  const previous = m === 1 ? `${y - 1}-12` : `${y}-${String(m - 1).padStart(2, '0')}`;
  if (first > previous) return [];
  const out: LateMonth[] = [];
  // At most 20 years back: a store that names a month of 1970 does not make hundreds of late months.
  for (const p of months(first, previous).slice(-240)) {
    if (f.published.has(p) || f.dismissed?.has(p)) continue;
    const since = lateFrom(p, dueDay, tz);
    if (now < since) continue;
    const have = f.present.get(p) ?? new Set<InputName>();
    const missing = INPUT_NAMES.filter((n) => !have.has(n));
    if (!missing.length) continue;
    const files = missing.map((n) => SOURCES[n].file);
    const names = files.length === 1 ? files[0] : `${files.slice(0, -1).join(', ')} and ${files.at(-1)}`;
    out.push({
      partition: p,
      missing,
      lateSince: since.toISOString(),
      words: `late: ${names} ${files.length === 1 ? 'was' : 'were'} due by ${dueDayWords(p, dueDay)} (BN_FILES_DUE_DAY=${dueDay}) and ${files.length === 1 ? 'has' : 'have'} not arrived`,
    });
  }
  return out;
}

/**
 * Lateness from the store alone (what the alerter's sweep and `bottleneck ui` use; the catalog
 * derives the same from its snapshot): four listings.
 */
export async function lateMonthsInStore(
  store: ObjectStore,
  now: Date,
  dueDay: number,
  dismissed: ReadonlySet<string> = new Set(),
): Promise<LateMonth[]> {
  const [incoming, extracts, runs, claims] = await Promise.all([
    store.list('incoming/'),
    store.list('extracts/'),
    store.list('runs/'),
    store.list(layout.ingestClaimsRoot),
  ]);
  const monthOf = (key: string, prefix: string) => key.slice(prefix.length).split('/')[0] ?? '';
  const present = new Map<string, Set<InputName>>();
  for (const o of incoming) {
    const k = parseIncomingKey(o.key);
    if (!k) continue;
    const s = present.get(k.partition) ?? new Set<InputName>();
    s.add(k.name);
    present.set(k.partition, s);
  }
  const published = new Set(
    extracts.filter((o) => o.key.endsWith('/_current.json')).map((o) => monthOf(o.key, 'extracts/')),
  );
  const known = [
    ...present.keys(),
    ...published,
    ...runs.map((o) => monthOf(o.key, 'runs/')),
    ...claims.map((o) => monthOf(o.key, layout.ingestClaimsRoot)),
  ].filter((p) => MONTH.test(p));
  return lateMonths({ known, present, published, dismissed }, now, dueDay);
}

/** The record of a late month, written once (If-None-Match): one alert per month, across restarts and replicas. */
export interface LateRecord {
  partition: string;
  missing: InputName[];
  lateSince: string;
  words: string;
  recordedAt: string;
  alert: { status: string; attempts: number; at?: string };
}

export const LATE_PREFIX = 'state/late/';
export const lateRecordKey = (partition: string) => `${LATE_PREFIX}${partition}.json`;

/**
 * Records a late month once: true when this call recorded it (the caller alerts), false when it
 * was recorded before (by this process, another replica, or before a restart).
 */
export async function recordLate(store: ObjectStore, late: LateMonth, now: Date): Promise<LateRecord | null> {
  const record: LateRecord = { ...late, recordedAt: now.toISOString(), alert: { status: 'pending', attempts: 0 } };
  try {
    await store.put(lateRecordKey(late.partition), JSON.stringify(record, null, 2) + '\n', {
      ifNoneMatch: true,
      contentType: 'application/json',
    });
    return record;
  } catch (e) {
    if (isBottleneckError(e) && e.details?.conflict) return null;
    throw e;
  }
}
