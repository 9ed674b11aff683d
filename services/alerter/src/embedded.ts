import type { Bus, Subscription } from '@bottleneck/shared/ports/bus';
import type { StageContext } from '@bottleneck/shared/stage/context';
import { handleDeadLetter } from './dead-letters.js';
import { AlertDelivery } from './delivery.js';
import { refusedComposer } from './refused.js';
import { DEFAULT_ALERT_RETRY_MS } from './stage.js';

/**
 * The in-process bus's dead letters, recorded as the services' alerter records them (`bottleneck
 * run`, `bottleneck ui`): a refused event under refused/<month>/ (the console lists it under that
 * month, alerted once per kind and hour), any other under dead-letter/ with one alert; the mails go
 * to the outbox at once (no grouping wait in one process). The in-process bus numbers its offsets
 * from 0 in every process, so the topic is named with `session` (when this process started): two
 * runs over the same folder do not take each other's records for a redelivery.
 */
export async function recordDeadLetters(
  bus: Pick<Bus, 'subscribeDeadLetters'>,
  ctx: Pick<StageContext, 'store' | 'mailer' | 'alert' | 'log'>,
  session: string,
): Promise<Subscription> {
  const { store, mailer, alert, log } = ctx;
  if (!mailer || !alert)
    throw new Error('recordDeadLetters needs the context of an engine with a mailer and alert settings');
  const delivery = new AlertDelivery({
    store,
    mailer,
    log,
    retryForMs: alert.retryForMs ?? DEFAULT_ALERT_RETRY_MS,
    compose: refusedComposer(store, alert),
  });
  return bus.subscribeDeadLetters({
    group: 'bottleneck-alerter-dead-letters',
    handler: async (dl) => {
      await handleDeadLetter(store, delivery, alert, log, { ...dl, sourceTopic: `${dl.sourceTopic}.${session}` }, 0);
      // Due now: the grouped alert waits for nothing in one process.
      await delivery.sweep();
    },
  });
}
