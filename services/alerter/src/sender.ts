import { errorMessage } from '@bottleneck/shared';
import { loadConfig } from '@bottleneck/shared/service/config';
import type { ServiceExtra, ServiceRuntime } from '@bottleneck/shared/service/run';
import { AlertDelivery } from './delivery.js';
import { startDeadLetterConsumer } from './dead-letters.js';
import { refusedComposer } from './refused.js';
import { queueUploadAlerts } from './uploads.js';
import { queueLateAlerts } from './late.js';

/** How often the pending alerts are looked at. */
const SWEEP_MS = 10_000;
/** How often late months (BN_FILES_DUE_DAY) are looked for. */
const LATE_LOOK_MS = 60_000;

/**
 * The alerter's own machinery: the reader of the bus's dead letters, and the sweep that retries
 * pending alerts (state/alerts/) until they are sent or BN_ALERT_RETRY_MS runs out. Pending alerts
 * are counted in /metrics (bn_alerts_pending) and listed in /status.
 */
export async function startAlerter(rt: ServiceRuntime): Promise<ServiceExtra> {
  const { ctx, store, log, metrics } = rt;
  if (!ctx.mailer) throw new Error('the alerter needs a mailer');
  const config = loadConfig('alerter', rt.env);
  if (!ctx.alert) throw new Error('the alerter needs its alert settings');
  const delivery = new AlertDelivery({
    store,
    mailer: ctx.mailer,
    log,
    retryForMs: config.BN_ALERT_RETRY_MS,
    compose: refusedComposer(store, ctx.alert),
  });
  const deadLetters = await startDeadLetterConsumer(rt, delivery, config.BN_ALERT_GROUP_MS);
  const alertSettings = ctx.alert;
  const uploadsSeen = new Set<string>();
  let lateAt = -Infinity;
  let pending: { id: string; attempts: number; createdAt: string; nextAttemptAt: string; lastError?: string }[] = [];
  let sweeping: Promise<void> | undefined;
  const sweep = () => {
    sweeping ??= (async () => {
      try {
        await queueUploadAlerts(store, delivery, alertSettings, uploadsSeen);
        // Lateness moves with the days, not the seconds: four listings once a minute.
        if (config.BN_FILES_DUE_DAY && Date.now() - lateAt >= LATE_LOOK_MS) {
          lateAt = Date.now();
          const late = await queueLateAlerts(store, delivery, alertSettings, config.BN_FILES_DUE_DAY, new Date());
          if (late.length) log.warn({ months: late }, `files late for ${late.join(', ')}: alerted (once per month)`);
        }
        await delivery.sweep();
        pending = (await delivery.pending()).map(({ id, attempts, createdAt, nextAttemptAt, lastError }) => ({
          id,
          attempts,
          createdAt,
          nextAttemptAt,
          ...(lastError ? { lastError } : {}),
        }));
        metrics.alertsPending.set(pending.length);
      } catch (e) {
        log.warn({ err: errorMessage(e) }, 'alert sweep failed (the store?): trying again later');
      } finally {
        sweeping = undefined;
      }
    })();
    return sweeping;
  };
  void sweep();
  const timer = setInterval(() => void sweep(), SWEEP_MS);
  timer.unref();
  return {
    stop: async () => {
      clearInterval(timer);
      await sweeping;
      await deadLetters.stop();
    },
    status: async () => ({ ...(await deadLetters.status?.()), alerts: { pending } }),
  };
}
