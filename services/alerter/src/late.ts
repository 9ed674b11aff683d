import { escapeHtml, isBottleneckError, type ObjectStore } from '@bottleneck/shared';
import { dismissedMonths, readDismissals } from '@bottleneck/shared/catalog/dismissed';
import {
  lateMonthsInStore,
  lateRecordKey,
  recordLate,
  type LateMonth,
  type LateRecord,
} from '@bottleneck/shared/catalog/late';
import { monthLink } from '@bottleneck/shared/links';
import type { MailMessage } from '@bottleneck/shared/ports/mailer';
import type { AlertDelivery } from './delivery.js';
import { headerSafe } from './stage.js';

type AlertSettings = { to: string[]; from: string; pipelineName: string; consoleUrl?: string };

/** The mail about a late month: which files are missing, since when, and what to do. */
export function lateMail(r: Pick<LateMonth, 'partition' | 'missing' | 'words'>, alert: AlertSettings): MailMessage {
  const files = r.missing.map((n) => `${n}.xlsx`);
  const lines = [
    `The ${alert.pipelineName} has not received all of ${r.partition}'s files: ${r.words}.`,
    '',
    `Missing: ${files.join(', ')}`,
    `What to do: drop ${files.length === 1 ? 'it' : 'them'} in incoming/${r.partition}/ (the month runs by itself once its three files have settled), or dismiss the month in the console if it should not be there.`,
    '',
    'This mail is sent once for the month.',
  ];
  const link = alert.consoleUrl ? monthLink(alert.consoleUrl, r.partition) : null;
  const text = link ? [...lines, '', `In the console: ${link}`] : lines;
  return {
    to: alert.to,
    from: alert.from,
    subject: headerSafe(`[${alert.pipelineName}] files late for ${r.partition}: ${files.join(', ')}`),
    text: text.join('\n'),
    html:
      `<p>${lines.map(escapeHtml).join('<br>\n')}</p>` +
      (link ? `\n<p>In the console: <a href="${escapeHtml(link)}">${escapeHtml(link)}</a></p>` : ''),
    tags: { kind: 'late-month', partition: r.partition },
  };
}

/**
 * One alert per late month (BN_FILES_DUE_DAY), across restarts and replicas: the month's record
 * under state/late/ is written once (If-None-Match), and its alert is queued with the record's id
 * (a second queueing of the same id is refused); a record whose alert is settled is left alone. A
 * crash between the record and the queueing is made good at the next sweep (the record's alert is
 * still pending). Returns the months queued by this call.
 */
export async function queueLateAlerts(
  store: ObjectStore,
  delivery: AlertDelivery,
  alert: AlertSettings,
  dueDay: number,
  now: Date,
): Promise<string[]> {
  const dismissed = new Set(dismissedMonths((await readDismissals(store)).records).keys());
  const queued: string[] = [];
  for (const late of await lateMonthsInStore(store, now, dueDay, dismissed)) {
    const record = (await recordLate(store, late, now)) ?? (await readLate(store, late.partition));
    if (record?.alert.status !== 'pending') continue;
    const id = `late-${late.partition}`;
    if (await delivery.enqueue(id, lateRecordKey(late.partition), lateMail(record, alert))) {
      queued.push(late.partition);
      await delivery.attempt(id, true).catch(() => 'retry');
    }
  }
  return queued;
}

async function readLate(store: ObjectStore, partition: string): Promise<LateRecord | null> {
  try {
    return JSON.parse((await store.get(lateRecordKey(partition))).toString('utf8')) as LateRecord;
  } catch (e) {
    if ((isBottleneckError(e) && e.code === 'BN_ERR_STORE_NOT_FOUND') || e instanceof SyntaxError) return null;
    throw e;
  }
}
