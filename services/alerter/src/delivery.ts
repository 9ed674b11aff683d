import { errorMessage, isBottleneckError, redactSecrets, withRetry, type ObjectStore } from '@bottleneck/shared';
import type { SendResult } from '@bottleneck/shared/ports/mailer';
import type { MailMessage, Mailer } from '@bottleneck/shared/ports/mailer';
import type { Logger } from '@bottleneck/shared/stage/context';

/** Where pending alerts live: one object per alert, removed once it is sent (or given up). */
export const PENDING_PREFIX = 'state/alerts/';
const pendingKey = (id: string) => `${PENDING_PREFIX}${id}.json`;
/**
 * Who makes attempt n of an alert: state/alert-sends/<id>/<n>.json, written If-None-Match. Two
 * alerters (two replicas sweeping, or a sweep and the first attempt in one process) may read the
 * same pending alert; only the one that creates the claim sends. Claims are kept (one small object
 * per attempt): a claim removed could be taken again by an alerter that read the alert before.
 */
export const SEND_CLAIMS_PREFIX = 'state/alert-sends/';
const sendClaimKey = (id: string, attempt: number) => `${SEND_CLAIMS_PREFIX}${id}/${attempt}.json`;

/** An alert not sent yet, kept in the store so that it survives restarts and outages. */
export interface PendingAlert {
  /** One per failed run (`run-<run-id>`) or per dead-lettered message (`bus-<topic>-<partition>-<offset>`). */
  id: string;
  /** The record the alert belongs to: its `alert` field is updated with the outcome. */
  recordKey: string;
  mail: MailMessage;
  createdAt: string;
  attempts: number;
  /** `sending` is written just before a send: found again, it means the process died during one. */
  state: 'pending' | 'sending';
  nextAttemptAt: string;
  lastError?: string;
  /** A grouped alert: its mail is composed at send time from its record (the count so far), by DeliveryOptions.compose. */
  digest?: boolean;
}

/** What a record says of its alert. `uncertain`: the alerter died while sending; not sent again, to never mail twice. */
export interface AlertState {
  status: 'pending' | 'sent' | 'failed' | 'uncertain';
  attempts: number;
  id?: string;
  error?: string;
  at?: string;
}

export interface DeliveryOptions {
  store: ObjectStore;
  mailer: Mailer;
  log: Logger;
  /** How long an alert is retried before it is given up, ms (BN_ALERT_RETRY_MS). */
  retryForMs: number;
  now?: () => Date;
  /** Composes the mail of a grouped alert (`digest`) when it is sent, from its record. */
  compose?: (p: PendingAlert) => Promise<MailMessage>;
}

/** The wait before the next attempt: 15 s, doubling, at most 15 minutes. */
export function backoffMs(attempts: number): number {
  return Math.min(15 * 60_000, 15_000 * 2 ** Math.max(0, attempts - 1));
}

const conflict = (e: unknown) => isBottleneckError(e) && Boolean(e.details?.conflict);

/**
 * Alert delivery, at most once and never lost silently. An alert is first written to the store
 * (state/alerts/<id>.json, If-None-Match: a redelivered failure finds it and does not queue it
 * twice); each attempt marks it `sending` before it calls the mailer (a crash during a send leaves
 * that mark, and the alert is then reported `uncertain` rather than sent twice); a failed attempt
 * is retried with backoff for `retryForMs` (hours), across restarts; the outcome is written to the
 * alert's record.
 */
export class AlertDelivery {
  private readonly now: () => Date;

  constructor(private readonly o: DeliveryOptions) {
    this.now = o.now ?? (() => new Date());
  }

  /**
   * Queues an alert; false when it was queued (or sent) before. `o.delayMs`: its first attempt waits
   * that long (a grouped alert gathers what follows); `o.digest`: its mail is composed when sent.
   */
  async enqueue(
    id: string,
    recordKey: string,
    mail: MailMessage,
    o: { delayMs?: number; digest?: boolean } = {},
  ): Promise<boolean> {
    const now = this.now();
    const at = now.toISOString();
    const p: PendingAlert = {
      id,
      recordKey,
      mail,
      createdAt: at,
      attempts: 0,
      state: 'pending',
      nextAttemptAt: new Date(now.getTime() + (o.delayMs ?? 0)).toISOString(),
      ...(o.digest ? { digest: true } : {}),
    };
    try {
      await this.o.store.put(pendingKey(id), JSON.stringify(p, null, 2) + '\n', {
        ifNoneMatch: true,
        contentType: 'application/json',
      });
      return true;
    } catch (e) {
      if (conflict(e)) return false;
      throw e;
    }
  }

  private async read(id: string): Promise<PendingAlert | null> {
    try {
      return JSON.parse((await this.o.store.get(pendingKey(id))).toString('utf8')) as PendingAlert;
    } catch (e) {
      if (isBottleneckError(e) && e.code === 'BN_ERR_STORE_NOT_FOUND') return null;
      throw e;
    }
  }

  private async write(p: PendingAlert): Promise<void> {
    await this.o.store.put(pendingKey(p.id), JSON.stringify(p, null, 2) + '\n', { contentType: 'application/json' });
  }

  /** Writes the outcome into the record of the alert (which must exist). */
  private async settle(p: PendingAlert, alert: AlertState): Promise<void> {
    const record = JSON.parse((await this.o.store.get(p.recordKey)).toString('utf8')) as { alert?: AlertState };
    record.alert = alert;
    await this.o.store.put(p.recordKey, JSON.stringify(record, null, 2) + '\n', { contentType: 'application/json' });
    await this.o.store.delete(pendingKey(p.id));
  }

  /** What the alert's record says of it, or null when it says nothing (the record must exist: `settle` writes to it). */
  private async recordStatus(p: PendingAlert): Promise<AlertState['status'] | null> {
    const record = JSON.parse((await this.o.store.get(p.recordKey)).toString('utf8')) as { alert?: AlertState };
    return record.alert?.status ?? null;
  }

  /**
   * Makes one attempt at an alert if it is due (or `force`): 'sent', 'retry' (kept, with its next
   * attempt), 'failed' (given up after retryForMs), 'uncertain', or 'none' (nothing pending).
   */
  async attempt(id: string, force = false): Promise<'sent' | 'retry' | 'failed' | 'uncertain' | 'none' | 'later'> {
    const p = await this.read(id);
    if (!p) return 'none';
    const now = this.now();
    if (p.state === 'sending') {
      // Its record settled already (the process died before dropping the alert): nothing was lost, nothing to say.
      const settled = await this.recordStatus(p);
      if (settled === 'sent' || settled === 'failed' || settled === 'uncertain') {
        await this.o.store.delete(pendingKey(id));
        return settled;
      }
      // A previous process died between its mark and the end of its send: the mail may have gone.
      this.o.log.warn(
        { alert: id, attempts: p.attempts },
        'the alerter stopped during a send: the alert is not sent again (it may have been delivered)',
      );
      await this.settle(p, {
        status: 'uncertain',
        attempts: p.attempts,
        at: now.toISOString(),
        error: 'the alerter stopped during the send',
      });
      return 'uncertain';
    }
    if (!force && Date.parse(p.nextAttemptAt) > now.getTime()) return 'later';
    const marked: PendingAlert = { ...p, state: 'sending', attempts: p.attempts + 1 };
    // The mark first: a crash after it (claim made or not) is found as `sending`, never retried blind.
    await this.write(marked);
    if (!(await this.claimSend(marked))) {
      this.o.log.info({ alert: id, attempt: marked.attempts }, 'another alerter makes this attempt: not sent here');
      return 'later';
    }
    let sent: SendResult;
    try {
      const mail = p.digest && this.o.compose ? await this.o.compose(p) : p.mail;
      sent = await this.o.mailer.send(mail);
    } catch (e) {
      const error = redactSecrets(errorMessage(e));
      if (now.getTime() - Date.parse(p.createdAt) >= this.o.retryForMs) {
        this.o.log.error(
          { alert: id, attempts: marked.attempts, err: error },
          'alert given up: the mail could not be sent in time; the record keeps it',
        );
        await this.settle(marked, { status: 'failed', attempts: marked.attempts, error, at: now.toISOString() });
        return 'failed';
      }
      const next = new Date(now.getTime() + backoffMs(marked.attempts)).toISOString();
      this.o.log.warn(
        { alert: id, attempts: marked.attempts, nextAttemptAt: next, err: error },
        'alert not sent: retrying later',
      );
      await this.write({ ...marked, state: 'pending', nextAttemptAt: next, lastError: error });
      return 'retry';
    }
    // The mail is gone: a store failure from here on must not make it a failed send (which would mail
    // again). Retried a little; if the store stays down, the mark `sending` remains and the alert is
    // reported uncertain, never sent twice.
    await withRetry(() =>
      this.settle(marked, { status: 'sent', attempts: marked.attempts, id: sent.id, at: this.now().toISOString() }),
    );
    return 'sent';
  }

  /** Takes attempt `p.attempts` of the alert for this alerter; false when another one took it. */
  private async claimSend(p: PendingAlert): Promise<boolean> {
    try {
      await this.o.store.put(
        sendClaimKey(p.id, p.attempts),
        JSON.stringify({ id: p.id, attempt: p.attempts, at: this.now().toISOString() }) + '\n',
        { ifNoneMatch: true, contentType: 'application/json' },
      );
      return true;
    } catch (e) {
      if (conflict(e)) return false;
      throw e;
    }
  }

  /** The alerts waiting to be sent, oldest first. */
  async pending(): Promise<PendingAlert[]> {
    const objects = await this.o.store.list(PENDING_PREFIX);
    const out: PendingAlert[] = [];
    for (const o of objects) {
      const id = o.key.slice(PENDING_PREFIX.length).replace(/\.json$/, '');
      const p = await this.read(id);
      if (p) out.push(p);
    }
    return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** One pass over the pending alerts: each due one gets an attempt. Returns how many are still pending. */
  async sweep(): Promise<number> {
    let left = 0;
    for (const p of await this.pending()) {
      const r = await this.attempt(p.id).catch((e: unknown) => {
        this.o.log.warn(
          { alert: p.id, err: errorMessage(e) },
          'pending alert: attempt failed (the store?), trying again later',
        );
        return 'retry' as const;
      });
      if (r === 'retry' || r === 'later') left++;
    }
    return left;
  }
}
