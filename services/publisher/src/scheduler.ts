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
  const fire = async (slot: Date, why: string) => {
    try {
      const runId = await fireSlot(store, bus, slot, timeZone, now());
      fired.unshift({ slot: slot.toISOString(), runId });
      fired.length = Math.min(fired.length, 12);
      log.info(
        { slot: slot.toISOString(), runId, why },
        runId ? 'scheduled trigger sent' : 'slot already fired elsewhere',
      );
    } catch (e) {
      log.error({ slot: slot.toISOString(), err: errorMessage(e) }, 'scheduled trigger failed');
    }
  };
  const job = new Cron(config.BN_SCHEDULE_CRON, { timezone: timeZone, protect: true }, async (self: Cron) => {
    const slot = self.currentRun() ?? now();
    await fire(new Date(Math.floor(slot.getTime() / 60_000) * 60_000), 'schedule');
  });
  // Catch up only after downtime: a schedule that has fired before (a claim exists) and missed
  // its latest slot. A first deployment does not fire the past.
  const missed = job.previousRuns(1, now())[0];
  if (missed && (await store.list('state/schedule/')).length > 0) await fire(missed, 'catch-up at start');
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
