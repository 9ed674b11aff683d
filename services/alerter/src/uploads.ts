import {
  escapeHtml,
  isBottleneckError,
  UNRECOGNISED_PREFIX,
  type ObjectStore,
  type UnrecognisedRecord,
} from '@bottleneck/shared';
import type { MailMessage } from '@bottleneck/shared/ports/mailer';
import type { AlertDelivery } from './delivery.js';
import { headerSafe } from './stage.js';

/** The mail about one upload the pipeline cannot place. */
export function uploadMail(
  r: UnrecognisedRecord,
  alert: { to: string[]; from: string; pipelineName: string },
  recordAt: string,
): MailMessage {
  const lines = [
    `An upload was not taken up by the ${alert.pipelineName}: ${r.key} (${r.bytes} bytes, modified ${r.modified}).`,
    '',
    `Why: ${r.why}`,
    '',
    'Nothing was run for it. Move or rename the file as said; the month runs once its three files are in incoming/YYYY-MM/.',
    `Record: ${recordAt}`,
  ];
  return {
    to: alert.to,
    from: alert.from,
    subject: headerSafe(`[${alert.pipelineName}] upload not recognised: ${r.key}`),
    text: lines.join('\n'),
    html: `<p>${lines.map(escapeHtml).join('<br>\n')}</p>`,
    tags: { kind: 'unrecognised-upload' },
  };
}

/**
 * Queues one alert per unrecognised upload (ingest's records under state/unrecognised/): once per
 * key, across restarts (the alert's id is the record's; a record whose alert is settled is skipped).
 * `done` remembers the records already looked at by this process. Returns how many were queued.
 */
export async function queueUploadAlerts(
  store: ObjectStore,
  delivery: AlertDelivery,
  alert: { to: string[]; from: string; pipelineName: string },
  done: Set<string>,
): Promise<number> {
  let queued = 0;
  for (const o of await store.list(UNRECOGNISED_PREFIX)) {
    if (done.has(o.key) || !o.key.endsWith('.json')) continue;
    let r: UnrecognisedRecord;
    try {
      r = JSON.parse((await store.get(o.key)).toString('utf8')) as UnrecognisedRecord;
    } catch (e) {
      if (isBottleneckError(e) && e.code === 'BN_ERR_STORE_NOT_FOUND') continue;
      if (e instanceof SyntaxError) {
        done.add(o.key);
        continue;
      }
      throw e;
    }
    if (r.alert.status === 'pending') {
      const id = `upload-${o.key.slice(UNRECOGNISED_PREFIX.length).replace(/\.json$/, '')}`;
      if (await delivery.enqueue(id, o.key, uploadMail(r, alert, store.describe(o.key)))) {
        queued++;
        await delivery.attempt(id, true).catch(() => 'retry');
      }
    }
    done.add(o.key);
  }
  return queued;
}
