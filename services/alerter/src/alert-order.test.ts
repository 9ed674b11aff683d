import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FolderStore } from '@bottleneck/shared/adapters/folder-store';
import { createError } from '@bottleneck/shared/errors/index';
import { makeEvent, type EventOf } from '@bottleneck/shared/events/index';
import { layout } from '@bottleneck/shared/keys';
import type { MailMessage, Mailer } from '@bottleneck/shared/ports/mailer';
import { silentLogger } from '@bottleneck/shared/stage/context';
import { cleanupTestContexts, testContext } from '@bottleneck/shared/testing/context';
import { CallLog, recordingMailer, recordingStore } from '@bottleneck/shared/testing/recording';
import { AlertDelivery, backoffMs, PENDING_PREFIX } from './delivery.js';
import { alerterStage } from './stage.js';

const dirs: string[] = [];
afterAll(async () => {
  await cleanupTestContexts();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

let NOW = new Date('2026-11-15T10:00:00Z');
const failed = (): EventOf<'failed'> =>
  makeEvent('failed', {
    runId: '2026-11-r1',
    partition: '2026-11',
    materializations: {},
    checks: [],
    payload: {
      stage: 'clean',
      code: 'BN_ERR_INPUT_CORRUPT',
      errorClass: 'BottleneckError',
      message: 'erp.xlsx is corrupt',
      retriable: false,
      failedAt: '2026-11-15T08:00:05.000Z',
    },
  });
const KEY = layout.deadLetter('2026-11', '2026-11-r1');

async function setup() {
  const dir = await mkdtemp(join(tmpdir(), 'bn-alert-order-'));
  dirs.push(dir);
  const folder = new FolderStore(dir);
  const log = new CallLog();
  const sent: MailMessage[] = [];
  const inner: Mailer = {
    send: async (msg) => {
      sent.push(msg);
      return { id: `m${String(sent.length)}` };
    },
  };
  const store = recordingStore(folder, log);
  const mailer = recordingMailer(inner, log);
  const { ctx } = await testContext({
    store,
    mailer,
    now: () => NOW,
    alert: { to: ['d@x.example'], from: 'p@x.example', pipelineName: 'BottleNeck pipeline' },
  });
  const delivery = new AlertDelivery({ store, mailer, log: silentLogger, retryForMs: 3600_000, now: () => NOW });
  return { folder, log, sent, ctx, delivery };
}

const record = async (folder: FolderStore) =>
  JSON.parse((await folder.get(KEY)).toString()) as { alert: { status: string; attempts: number } };

describe('the alerter, effect by effect', () => {
  it('writes the dead-letter record, queues the alert, marks it sending, claims the attempt, mails, settles the record, then drops the alert', async () => {
    const { log, sent, ctx } = await setup();
    await alerterStage.handle(failed(), ctx);
    expect(log.lines()).toEqual([
      `put ${KEY}`,
      'put state/alerts/run-2026-11-r1.json',
      'put state/alerts/run-2026-11-r1.json',
      'put state/alert-sends/run-2026-11-r1/1.json',
      'send [BottleNeck pipeline] run failed at stage clean for 2026-11',
      `put ${KEY}`,
      'delete state/alerts/run-2026-11-r1.json',
    ]);
    expect(sent).toHaveLength(1);
  });

  it('for every k, a crash at the k-th effect then a redelivery and a sweep: a record always, never two mails, one mail unless the crash took the send', async () => {
    for (let k = 1; k <= 7; k++) {
      const { folder, log, sent, ctx, delivery } = await setup();
      log.restart(k);
      await alerterStage.handle(failed(), ctx).catch(() => undefined);
      const mailedBeforeCrash = sent.length;
      log.restart();
      await alerterStage.handle(failed(), ctx);
      await delivery.sweep();
      await delivery.sweep();
      const what = `crash at effect ${String(k)}`;
      // Killed at the attempt's claim (k = 4), the send (k = 5) or after it (k = 6): the mark says
      // `sending`, so the alert is uncertain, never sent again.
      expect(sent.length, what).toBe(k === 4 || k === 5 ? 0 : 1);
      expect(await folder.list(PENDING_PREFIX), what).toEqual([]);
      expect((await record(folder)).alert.status, what).toBe(k >= 4 && k <= 6 ? 'uncertain' : 'sent');
      expect(mailedBeforeCrash, what).toBe(k >= 6 ? 1 : 0);
    }
  });

  it('does not mail again when the store fails just after a mail was sent', async () => {
    const { folder, sent, ctx, delivery } = await setup();
    // The store refuses (503, retriable) the one write that records the outcome, right after the send.
    let failOnce = true;
    const put = folder.put.bind(folder);
    folder.put = async (key, body, opts) => {
      if (key === KEY && sent.length === 1 && failOnce) {
        failOnce = false;
        throw createError('BN_ERR_STORE_IO', 'HTTP 503 ServiceUnavailable', { retriable: true });
      }
      return put(key, body, opts);
    };
    await alerterStage.handle(failed(), ctx);
    // Later, when any retry of the alert would be due.
    NOW = new Date(NOW.getTime() + 3600_000);
    await delivery.sweep();
    await delivery.sweep();
    expect(sent).toHaveLength(1);
    expect((await record(folder)).alert.status).toMatch(/^(sent|uncertain)$/);
    expect(await folder.list(PENDING_PREFIX)).toEqual([]);
  });
});

describe('alert delivery at its edges', () => {
  it('backs off 15 s, doubling, up to 15 minutes', () => {
    expect([0, 1, 2, 3, 6, 7, 20].map(backoffMs)).toEqual([15_000, 15_000, 30_000, 60_000, 480_000, 900_000, 900_000]);
  });

  it('lists pending alerts oldest first, counts what is left after a sweep, and refuses to queue over another write failure', async () => {
    const { folder, sent, delivery } = await setup();
    const later = new AlertDelivery({
      store: folder,
      mailer: {
        send: async () => Promise.reject(createError('BN_ERR_MAIL_SEND', 'down', { retriable: true })),
      },
      log: silentLogger,
      retryForMs: 3600_000,
      now: () => new Date(NOW.getTime() + 1_000),
    });
    await folder.put(KEY, JSON.stringify({ alert: { status: 'pending', attempts: 0 } }));
    expect(
      await later.enqueue('run-b', KEY, {
        to: ['d@x.example'],
        from: 'p@x.example',
        subject: 'b',
        text: 'b',
        html: 'b',
      }),
    ).toBe(true);
    expect(
      await delivery.enqueue('run-a', KEY, {
        to: ['d@x.example'],
        from: 'p@x.example',
        subject: 'a',
        text: 'a',
        html: 'a',
      }),
    ).toBe(true);
    expect((await delivery.pending()).map((p) => p.id)).toEqual(['run-a', 'run-b']);
    // The failing mailer leaves both pending, counted.
    expect(await later.sweep()).toBe(2);
    expect(sent).toEqual([]);
    // Not an If-None-Match conflict: the failure is the caller's to handle, not "queued before".
    const broken = new AlertDelivery({
      store: Object.assign(Object.create(folder) as FolderStore, {
        put: async () => Promise.reject(createError('BN_ERR_STORE_IO', 'HTTP 503', { retriable: true })),
      }),
      mailer: { send: async () => ({ id: 'x' }) },
      log: silentLogger,
      retryForMs: 3600_000,
    });
    await expect(
      broken.enqueue('run-c', KEY, { to: [], from: '', subject: '', text: '', html: '' }),
    ).rejects.toMatchObject({
      code: 'BN_ERR_STORE_IO',
    });
    await expect(broken.attempt('run-a', true)).rejects.toMatchObject({ code: 'BN_ERR_STORE_IO' });
  });

  it('gives an alert up exactly at its retry time', async () => {
    const { folder } = await setup();
    await folder.put(KEY, JSON.stringify({ alert: { status: 'pending', attempts: 0 } }));
    let now = NOW;
    const d = new AlertDelivery({
      store: folder,
      mailer: {
        send: async () => Promise.reject(createError('BN_ERR_MAIL_SEND', 'down', { retriable: true })),
      },
      log: silentLogger,
      retryForMs: 60_000,
      now: () => now,
    });
    await d.enqueue('run-x', KEY, { to: [], from: '', subject: '', text: '', html: '' });
    now = new Date(NOW.getTime() + 60_000);
    expect(await d.attempt('run-x', true)).toBe('failed');
    expect((await record(folder)).alert).toMatchObject({ status: 'failed', attempts: 1 });
  });
});
