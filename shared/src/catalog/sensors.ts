import type { ObjectStore } from '../ports/object-store.js';
import { isBottleneckError } from '../errors/index.js';

/**
 * The sensors and the schedule, as the console's sensors page shows them (Dagster's "sensors and
 * schedules"). Each writes its own state under `state/sensors/` after every look (the upload
 * watcher: ingest's in the services, the folder watcher in `bottleneck ui`; the monthly schedule:
 * the publisher), so the console, a process of its own, reads what they last did. Pausing the
 * schedule is a record the console writes and the scheduler reads before it fires a slot.
 */

export const SENSORS_PREFIX = 'state/sensors/';
const WATCHER_KEY = (where: string) => `${SENSORS_PREFIX}upload-watcher-${where}.json`;
const SCHEDULE_KEY = `${SENSORS_PREFIX}schedule.json`;
const PAUSE_KEY = `${SENSORS_PREFIX}schedule-paused.json`;

/** What an object the watcher saw became. */
export type Became = 'run' | 'waiting' | 'settling' | 'unrecognised' | 'seen before' | 'not run';

export interface WatcherState {
  /** `ingest` (the services' watcher) or `ui` (`bottleneck ui`'s folder watcher). */
  where: string;
  lastPollAt: string;
  polls: number;
  /** Each month's files as last seen (a hash of their keys and ETags): the cursor. */
  cursor: Record<string, string>;
  objectsSeen: number;
  /** The objects of the last look (at most 200), newest first, and what each became. */
  objects: {
    key: string;
    etag?: string;
    bytes: number;
    modified: string;
    became: Became;
    runId?: string;
    why?: string;
  }[];
  /** Runs it started, newest first (at most 20). */
  triggered: { partition: string; runId: string; at: string }[];
}

export interface ScheduleTick {
  at: string;
  slot: string;
  did: 'triggered' | 'fired elsewhere' | 'paused' | 'waiting for files' | 'late' | 'error';
  runId?: string;
  partition?: string;
  /** For a month not run: why, in words (which files are missing, late past BN_FILES_DUE_DAY). */
  words?: string;
  error?: string;
}

export interface ScheduleState {
  cron: string;
  timeZone: string;
  nextTick: string | null;
  lastTick: ScheduleTick | null;
  recent: ScheduleTick[];
  updatedAt: string;
}

export interface ScheduleControl {
  paused: boolean;
  at: string;
  by: string;
}

const notFound = (e: unknown) => isBottleneckError(e) && e.code === 'BN_ERR_STORE_NOT_FOUND';

async function readJson<T>(store: ObjectStore, key: string): Promise<T | null> {
  try {
    return JSON.parse((await store.get(key)).toString('utf8')) as T;
  } catch (e) {
    if (notFound(e) || e instanceof SyntaxError) return null;
    throw e;
  }
}

const putJson = (store: ObjectStore, key: string, v: unknown) =>
  store.put(key, JSON.stringify(v, null, 2) + '\n', { contentType: 'application/json' });

/** The watcher's state after a look (`objects` is cut to the newest 200). */
export async function writeWatcherState(store: ObjectStore, s: WatcherState): Promise<void> {
  const objects = [...s.objects].sort((a, b) => b.modified.localeCompare(a.modified)).slice(0, 200);
  await putJson(store, WATCHER_KEY(s.where), { ...s, objects, triggered: s.triggered.slice(0, 20) });
}

export async function writeScheduleState(store: ObjectStore, s: ScheduleState): Promise<void> {
  await putJson(store, SCHEDULE_KEY, { ...s, recent: s.recent.slice(0, 12) });
}

/** Whether the schedule is paused (no record: running). */
export async function scheduleControl(store: ObjectStore): Promise<ScheduleControl | null> {
  return readJson<ScheduleControl>(store, PAUSE_KEY);
}

/** Pauses or resumes the schedule (the scheduler reads it before each slot). */
export async function setSchedulePaused(
  store: ObjectStore,
  paused: boolean,
  now: Date,
  by = 'console',
): Promise<ScheduleControl> {
  const c: ScheduleControl = { paused, at: now.toISOString(), by };
  await putJson(store, PAUSE_KEY, c);
  return c;
}

export interface Sensors {
  watchers: WatcherState[];
  schedule: (ScheduleState & { paused: boolean; control: ScheduleControl | null }) | null;
  control: ScheduleControl | null;
}

/** Everything the sensors page shows, from the store. */
export async function readSensors(store: ObjectStore): Promise<Sensors> {
  const keys = (await store.list(SENSORS_PREFIX)).map((o) => o.key);
  const watchers = (
    await Promise.all(
      keys
        .filter((k) => /^state\/sensors\/upload-watcher-[a-z0-9-]+\.json$/.test(k))
        .map((k) => readJson<WatcherState>(store, k)),
    )
  ).filter((w): w is WatcherState => w !== null && typeof w.lastPollAt === 'string');
  const [schedule, control] = await Promise.all([
    keys.includes(SCHEDULE_KEY) ? readJson<ScheduleState>(store, SCHEDULE_KEY) : null,
    keys.includes(PAUSE_KEY) ? scheduleControl(store) : null,
  ]);
  return {
    watchers,
    schedule: schedule ? { ...schedule, paused: control?.paused ?? false, control } : null,
    control,
  };
}
