import { Cron } from 'croner';
import {
  isBottleneckError,
  layout,
  makeEvent,
  newRunId,
  partitionOf,
  type Bus,
  type ObjectStore,
  errorMessage,
  defined,
} from '@bottleneck/shared';
import { INPUT_NAMES, parseIncomingKey, type InputName } from '@bottleneck/shared/keys';
import { lateFrom } from '@bottleneck/shared/catalog/late';
import { loadConfig } from '@bottleneck/shared/service/config';
import type { ServiceExtra, ServiceRuntime } from '@bottleneck/shared/service/run';
import { scheduleControl, writeScheduleState, type ScheduleTick } from '@bottleneck/shared/catalog/sensors';

/** What firing a slot did: a run, or nothing because files are missing (the month waits, or is late), or nothing because the slot had fired. */
export type SlotOutcome =
  | { partition: string; runId: string }
  | { partition: string; runId: null; waiting: { missing: InputName[]; late: boolean; words: string } }
  | null;

/**
 * Fires the trigger of one slot, once: the claim object is written with If-None-Match, so several
 * publisher replicas, or a restart, fire each slot at most once. A month whose three files are not
 * all in incoming/ is not run (it would fail for them): the claim records it as waiting for files,
 * or late past BN_FILES_DUE_DAY (`dueDay`), and the month runs by itself once its files arrive
 * (ingest's watcher). Returns what the slot did, or null when the slot was already fired.
 */
export async function fireSlot(
  store: ObjectStore,
  bus: Bus,
  slot: Date,
  timeZone: string,
  now = new Date(),
  o: { dueDay?: number } = {},
): Promise<SlotOutcome> {
  const partition = partitionOf(slot, timeZone);
  const present = new Set(
    (await store.list(layout.incomingPrefix(partition))).map((x) => parseIncomingKey(x.key)?.name),
  );
  const missing = INPUT_NAMES.filter((n) => !present.has(n));
  const runId = missing.length ? null : newRunId(partition, now);
  const late = missing.length > 0 && o.dueDay !== undefined && now >= lateFrom(partition, o.dueDay);
  const files = missing.map((n) => `${n}.xlsx`).join(', ');
  const waiting = missing.length
    ? {
        missing,
        late,
        words: late
          ? `late: ${files} missing past day ${o.dueDay} of the following month; not run (the month runs once its files arrive)`
          : `waiting for files: ${files} missing; not run (the month runs once its files arrive)`,
      }
    : null;
  try {
    await store.put(
      layout.scheduleClaim(partition, slot),
      JSON.stringify({
        runId,
        slot: slot.toISOString(),
        firedAt: now.toISOString(),
        ...(waiting ? { outcome: late ? 'late' : 'waiting-for-files', ...waiting } : { outcome: 'triggered' }),
      }) + '\n',
      { ifNoneMatch: true },
    );
  } catch (e) {
    if (isBottleneckError(e) && e.details?.conflict) return null;
    throw e;
  }
  if (!runId) return { partition, runId: null, waiting: defined(waiting, 'what the slot waits for') };
  await bus.publish(
    makeEvent('trigger', { runId, partition, materializations: {}, checks: [], payload: { source: 'schedule' } }, now),
  );
  return { partition, runId };
}

/**
 * The monthly schedule (BN_SCHEDULE_CRON in BN_SCHEDULE_TZ, default the 15th at 09:00 Paris time):
 * each slot triggers a run of the slot's month. At start, after downtime, the latest slot before
 * now fires if it never did (once, whatever the number of replicas).
 */
export async function startScheduler(rt: ServiceRuntime, now: () => Date = () => new Date()): Promise<ServiceExtra> {
  const { store, bus, log } = rt;
  const config = loadConfig('publisher', rt.env);
  const timeZone = config.BN_SCHEDULE_TZ;
  const fired: { slot: string; runId: string | null; words?: string }[] = [];
  const dueDay = config.BN_FILES_DUE_DAY;
  const recent: ScheduleTick[] = [];
  let job: Cron | null = null;
  /** What the sensors page shows: the last ticks, the next one (best effort: a tick never fails for it). */
  const saveState = () =>
    writeScheduleState(store, {
      cron: config.BN_SCHEDULE_CRON,
      timeZone,
      nextTick: job?.nextRun()?.toISOString() ?? null,
      lastTick: recent[0] ?? null,
      recent,
      updatedAt: now().toISOString(),
    }).catch((e: unknown) => log.warn({ err: errorMessage(e) }, 'schedule state not recorded (the store?)'));
  const fire = async (slot: Date, why: string) => {
    const at = now().toISOString();
    let tick: ScheduleTick;
    try {
      // Paused from the console: the slot is claimed as skipped, so no catch-up fires it later.
      if ((await scheduleControl(store))?.paused) {
        await store
          .put(
            layout.scheduleClaim(partitionOf(slot, timeZone), slot),
            JSON.stringify({ runId: null, slot: slot.toISOString(), skipped: 'paused', at }) + '\n',
            { ifNoneMatch: true },
          )
          .catch((e: unknown) => {
            if (!(isBottleneckError(e) && e.details?.conflict)) throw e;
          });
        tick = { at, slot: slot.toISOString(), did: 'paused' };
        log.info({ slot: slot.toISOString(), why }, 'schedule paused: slot skipped');
      } else {
        const r = await fireSlot(store, bus, slot, timeZone, now(), dueDay ? { dueDay } : {});
        fired.unshift({
          slot: slot.toISOString(),
          runId: r?.runId ?? null,
          ...(r && 'waiting' in r ? { words: r.waiting.words } : {}),
        });
        fired.length = Math.min(fired.length, 12);
        const said = { slot: slot.toISOString(), runId: r?.runId ?? null, partition: r?.partition, why };
        if (!r) {
          tick = { at, slot: slot.toISOString(), did: 'fired elsewhere' };
          log.info(said, 'slot already fired elsewhere');
        } else if ('waiting' in r) {
          tick = {
            at,
            slot: slot.toISOString(),
            did: r.waiting.late ? 'late' : 'waiting for files',
            partition: r.partition,
            words: r.waiting.words,
          };
          log.warn({ ...said, missing: r.waiting.missing }, `${r.partition}: ${r.waiting.words}`);
        } else {
          tick = { at, slot: slot.toISOString(), did: 'triggered', runId: r.runId, partition: r.partition };
          log.info(said, 'scheduled trigger sent');
        }
      }
    } catch (e) {
      tick = { at, slot: slot.toISOString(), did: 'error', error: errorMessage(e) };
      log.error({ slot: slot.toISOString(), err: errorMessage(e) }, 'scheduled trigger failed');
    }
    recent.unshift(tick);
    recent.length = Math.min(recent.length, 12);
    await saveState();
  };
  job = new Cron(config.BN_SCHEDULE_CRON, { timezone: timeZone, protect: true }, async (self: Cron) => {
    const slot = self.currentRun() ?? now();
    await fire(new Date(Math.floor(slot.getTime() / 60_000) * 60_000), 'schedule');
  });
  // Catch up only after downtime: a schedule that has fired before (a claim exists) and missed
  // its latest slot. A first deployment does not fire the past.
  const missed = job.previousRuns(1, now())[0];
  if (missed && (await store.list('state/schedule/')).length > 0) await fire(missed, 'catch-up at start');
  await saveState();
  return {
    stop: () => {
      job.stop();
      return Promise.resolve();
    },
    status: () => ({
      schedule: {
        cron: config.BN_SCHEDULE_CRON,
        timeZone,
        nextRun: job.nextRun()?.toISOString() ?? null,
        recent: fired,
      },
    }),
  };
}
