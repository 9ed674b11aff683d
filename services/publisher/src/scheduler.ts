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
} from '@bottleneck/shared';
import { loadConfig } from '@bottleneck/shared/service/config';
import type { ServiceExtra, ServiceRuntime } from '@bottleneck/shared/service/run';
import { scheduleControl, writeScheduleState, type ScheduleTick } from '@bottleneck/shared/catalog/sensors';

/**
 * Fires the trigger of one slot, once: the claim object is written with If-None-Match, so several
 * publisher replicas, or a restart, fire each slot at most once. Returns the run id, or null when
 * the slot was already fired.
 */
export async function fireSlot(
  store: ObjectStore,
  bus: Bus,
  slot: Date,
  timeZone: string,
  now = new Date(),
): Promise<string | null> {
  const partition = partitionOf(slot, timeZone);
  const runId = newRunId(partition, now);
  try {
    await store.put(
      layout.scheduleClaim(partition, slot),
      JSON.stringify({ runId, slot: slot.toISOString(), firedAt: now.toISOString() }) + '\n',
      { ifNoneMatch: true },
    );
  } catch (e) {
    if (isBottleneckError(e) && e.details?.conflict) return null;
    throw e;
  }
  await bus.publish(
    makeEvent('trigger', { runId, partition, materializations: {}, checks: [], payload: { source: 'schedule' } }, now),
  );
  return runId;
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
  const fired: { slot: string; runId: string | null }[] = [];
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
        const runId = await fireSlot(store, bus, slot, timeZone, now());
        fired.unshift({ slot: slot.toISOString(), runId });
        fired.length = Math.min(fired.length, 12);
        tick = runId
          ? { at, slot: slot.toISOString(), did: 'triggered', runId, partition: partitionOf(slot, timeZone) }
          : { at, slot: slot.toISOString(), did: 'fired elsewhere' };
        log.info(
          { slot: slot.toISOString(), runId, why },
          runId ? 'scheduled trigger sent' : 'slot already fired elsewhere',
        );
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
