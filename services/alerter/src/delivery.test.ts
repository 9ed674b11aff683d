import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FolderStore } from '@bottleneck/shared/adapters/folder-store';
import { BottleneckError } from '@bottleneck/shared/errors/index';
import { makeEvent, type EventOf } from '@bottleneck/shared/events/index';
import { layout } from '@bottleneck/shared/keys';
import type { MailMessage, Mailer } from '@bottleneck/shared/ports/mailer';
import type { ObjectStore } from '@bottleneck/shared/ports/object-store';
import { silentLogger } from '@bottleneck/shared/stage/context';
import { cleanupTestContexts, testContext } from '@bottleneck/shared/testing/context';
import { AlertDelivery, backoffMs, PENDING_PREFIX } from './delivery.js';
import { alerterStage, headerSafe } from './stage.js';

const dirs: string[] = [];
afterAll(async () => {
  await cleanupTestContexts();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function folder() {
  const d = await mkdtemp(join(tmpdir(), 'bn-alert-'));
  dirs.push(d);
  return new FolderStore(d);
}

/** A mailer that fails while `down` and counts what it delivered. */
function mailer() {
  const m = { down: false, sent: [] as MailMessage[], calls: 0 };
  const impl: Mailer = {
    send: async (msg) => {
      m.calls++;
      if (m.down) throw new BottleneckError('BN_ERR_MAIL_SEND', 'SendGrid answered 503');
      m.sent.push(msg);
      return { id: `m${m.sent.length}` };
    },
  };
  return { m, impl };
}

const mail: MailMessage = { to: ['data@x.example'], from: 'p@x.example', subject: 's', text: 't', html: '<p>t</p>' };

describe('alert delivery', () => {
  it('queues an alert once, sends it, and writes the outcome to its record', async () => {
    const store = await folder();
    const { m, impl } = mailer();
    await store.put(
      'dead-letter/2026-11/r1.json',
      JSON.stringify({ runId: 'r1', alert: { status: 'pending', attempts: 0 } }),
    );
    const d = new AlertDelivery({ store, mailer: impl, log: silentLogger, retryForMs: 3600_000 });
    expect(await d.enqueue('run-r1', 'dead-letter/2026-11/r1.json', mail)).toBe(true);
    expect(await d.enqueue('run-r1', 'dead-letter/2026-11/r1.json', mail)).toBe(false);
    expect(await d.attempt('run-r1', true)).toBe('sent');
    expect(await d.attempt('run-r1', true)).toBe('none');
    expect(m.sent).toHaveLength(1);
    expect(JSON.parse((await store.get('dead-letter/2026-11/r1.json')).toString()).alert).toMatchObject({
      status: 'sent',
      attempts: 1,
      id: 'm1',
    });
    expect(await store.list(PENDING_PREFIX)).toEqual([]);
  });

  it('keeps an alert through a mail outage, retries it with backoff, and sends it once the service is back', async () => {
    const store = await folder();
    const { m, impl } = mailer();
    await store.put('dead-letter/2026-11/r1.json', JSON.stringify({ alert: { status: 'pending', attempts: 0 } }));
    let now = new Date('2026-11-15T10:00:00Z');
    const d = new AlertDelivery({ store, mailer: impl, log: silentLogger, retryForMs: 3600_000, now: () => now });
    await d.enqueue('run-r1', 'dead-letter/2026-11/r1.json', mail);
    m.down = true;
    expect(await d.attempt('run-r1', true)).toBe('retry');
    expect(await d.attempt('run-r1')).toBe('later');
    expect((await d.pending())[0]).toMatchObject({
      attempts: 1,
      state: 'pending',
      nextAttemptAt: new Date(now.getTime() + backoffMs(1)).toISOString(),
      lastError: 'SendGrid answered 503',
    });
    now = new Date(now.getTime() + backoffMs(1));
    expect(await d.sweep()).toBe(1);
    m.down = false;
    now = new Date(now.getTime() + backoffMs(2));
    // A new process (a restart) finds the alert in the store.
    const after = new AlertDelivery({ store, mailer: impl, log: silentLogger, retryForMs: 3600_000, now: () => now });
    expect(await after.sweep()).toBe(0);
    expect(m.sent).toHaveLength(1);
    expect(JSON.parse((await store.get('dead-letter/2026-11/r1.json')).toString()).alert).toMatchObject({
      status: 'sent',
      attempts: 3,
    });
  });

  it('gives an alert up after its retry time, and says so in the record', async () => {
    const store = await folder();
    const { m, impl } = mailer();
    m.down = true;
    await store.put('dead-letter/2026-11/r1.json', JSON.stringify({ alert: { status: 'pending', attempts: 0 } }));
    let now = new Date('2026-11-15T10:00:00Z');
    const d = new AlertDelivery({ store, mailer: impl, log: silentLogger, retryForMs: 60_000, now: () => now });
    await d.enqueue('run-r1', 'dead-letter/2026-11/r1.json', mail);
    expect(await d.attempt('run-r1', true)).toBe('retry');
    now = new Date(now.getTime() + 61_000);
    expect(await d.attempt('run-r1', true)).toBe('failed');
    expect(JSON.parse((await store.get('dead-letter/2026-11/r1.json')).toString()).alert).toMatchObject({
      status: 'failed',
      attempts: 2,
      error: 'SendGrid answered 503',
    });
    expect(await d.pending()).toEqual([]);
  });

  it('never sends twice: an alert found in the middle of a send (the alerter died there) is reported uncertain, not sent again', async () => {
    const store = await folder();
    const { m, impl } = mailer();
    await store.put('dead-letter/2026-11/r1.json', JSON.stringify({ alert: { status: 'pending', attempts: 0 } }));
    const d = new AlertDelivery({ store, mailer: impl, log: silentLogger, retryForMs: 3600_000 });
    await d.enqueue('run-r1', 'dead-letter/2026-11/r1.json', mail);
    const p = (await d.pending())[0]!;
    await store.put(`${PENDING_PREFIX}run-r1.json`, JSON.stringify({ ...p, state: 'sending', attempts: 1 }));
    expect(await d.attempt('run-r1', true)).toBe('uncertain');
    expect(m.calls).toBe(0);
    expect(JSON.parse((await store.get('dead-letter/2026-11/r1.json')).toString()).alert).toMatchObject({
      status: 'uncertain',
      attempts: 1,
    });
  });

  it('sends once when two alerters (two replicas, or a sweep and a first attempt) take the same alert at once', async () => {
    const store = await folder();
    await store.put('dead-letter/2026-11/r1.json', JSON.stringify({ alert: { status: 'pending', attempts: 0 } }));
    // Both read the alert as pending before either marks it: the race two sweeps can run.
    let reads = 0;
    let bothRead!: () => void;
    const barrier = new Promise<void>((r) => (bothRead = r));
    const racing = Object.create(store) as ObjectStore;
    racing.get = async (key, o) => {
      const out = await store.get(key, o);
      if (key === `${PENDING_PREFIX}run-r1.json` && ++reads <= 2) {
        if (reads === 2) bothRead();
        await barrier;
      }
      return out;
    };
    const { m, impl } = mailer();
    const replica = () => new AlertDelivery({ store: racing, mailer: impl, log: silentLogger, retryForMs: 3600_000 });
    const [a, b] = [replica(), replica()];
    await a.enqueue('run-r1', 'dead-letter/2026-11/r1.json', mail);
    const outcomes = await Promise.all([a.attempt('run-r1', true), b.attempt('run-r1', true)]);
    expect(outcomes.sort()).toEqual(['later', 'sent']);
    expect(m.sent).toHaveLength(1);
    // The alert is settled: nothing left for a later sweep to send.
    expect(await a.sweep()).toBe(0);
    expect(m.sent).toHaveLength(1);
    expect(JSON.parse((await store.get('dead-letter/2026-11/r1.json')).toString()).alert).toMatchObject({
      status: 'sent',
      attempts: 1,
    });
  });
});

describe('the alerter stage', () => {
  const failed = (
    runId = '2026-11-20261115T080000-aaaaaa',
    code = 'BN_ERR_INPUT_CORRUPT',
    stage = 'clean',
  ): EventOf<'failed'> =>
    makeEvent('failed', {
      runId,
      partition: '2026-11',
      materializations: {},
      checks: [],
      payload: {
        stage,
        code,
        errorClass: 'BottleneckError',
        message: 'erp.xlsx is corrupt',
        retriable: false,
        failedAt: '2026-11-15T08:00:05.000Z',
      },
    });

  async function setup(store?: ObjectStore) {
    const { m, impl } = mailer();
    const { ctx, store: s } = await testContext({
      ...(store ? { store } : {}),
      mailer: impl,
      alert: { to: ['d@x.example'], from: 'p@x.example', pipelineName: 'BottleNeck pipeline' },
    });
    return { ctx, m, store: s };
  }

  it('writes the record, sends one mail, and does neither twice for a redelivered failure', async () => {
    const { ctx, m, store } = await setup();
    const e = failed();
    await alerterStage.handle(e, ctx);
    await alerterStage.handle(JSON.parse(JSON.stringify(e)), ctx);
    expect(m.sent).toHaveLength(1);
    expect(m.sent[0]!.subject).toBe('[BottleNeck pipeline] run failed at stage clean for 2026-11');
    const record = JSON.parse((await store.get(layout.deadLetter('2026-11', e.runId))).toString());
    expect(record).toMatchObject({
      runId: e.runId,
      code: 'BN_ERR_INPUT_CORRUPT',
      alert: { status: 'sent', attempts: 1 },
    });
  });

  it('waits for a store that does not answer instead of dropping the failure', async () => {
    const inner = await folder();
    let refusals = 3;
    const flaky = new Proxy(inner, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (prop !== 'put' || typeof v !== 'function')
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        return async (...a: unknown[]) => {
          if (refusals-- > 0)
            throw new BottleneckError('BN_ERR_STORE_IO', 'writing failed: HTTP 503 SlowDown', { retriable: true });
          return (v as (...b: unknown[]) => unknown).apply(target, a);
        };
      },
    });
    const { ctx, m } = await setup(flaky);
    await alerterStage.handle(failed(), ctx);
    expect(m.sent).toHaveLength(1);
  });

  it('records and mails nothing for a superseded run, and keeps an event field out of the mail headers', async () => {
    const { ctx, m, store } = await setup();
    await alerterStage.handle(failed(undefined, 'BN_ERR_RUN_SUPERSEDED', 'publisher'), ctx);
    expect(m.sent).toEqual([]);
    expect(await store.list('dead-letter/')).toEqual([]);
    await alerterStage.handle(
      failed('2026-11-20261115T080000-bbbbbb', 'BN_ERR_ASSET_FAILED', 'clean\r\nBcc: everyone@x.example\r\n<b>x</b>'),
      ctx,
    );
    expect(m.sent[0]!.subject).toBe(
      '[BottleNeck pipeline] run failed at stage clean Bcc: everyone@x.example b x /b for 2026-11',
    );
    expect(headerSafe('a\u0000b\tc')).toBe('a b c');
  });
});
