import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FolderStore } from '@bottleneck/shared/adapters/folder-store';
import { createError } from '@bottleneck/shared/errors/index';
import { makeEvent, type EventOf } from '@bottleneck/shared/events/index';
import { layout } from '@bottleneck/shared/keys';
import type { MailMessage, Mailer } from '@bottleneck/shared/ports/mailer';
import type { ObjectStore } from '@bottleneck/shared/ports/object-store';
import { silentLogger } from '@bottleneck/shared/stage/context';
import { cleanupTestContexts, testContext } from '@bottleneck/shared/testing/context';
import { CallLog, recordingStore } from '@bottleneck/shared/testing/recording';
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
      if (m.down) throw createError('BN_ERR_MAIL_SEND', 'SendGrid answered 503');
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
            throw createError('BN_ERR_STORE_IO', 'writing failed: HTTP 503 SlowDown', { retriable: true });
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

describe('alert delivery: what it logs, writes and keeps', () => {
  /** A logger that keeps every line, for the operator's view of an alert. */
  function logged() {
    const lines: { level: string; obj: object; msg?: string }[] = [];
    const at = (level: string) => (obj: object, msg?: string) => {
      lines.push({ level, obj, ...(msg === undefined ? {} : { msg }) });
    };
    return { lines, log: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
  }
  const RECORD = 'dead-letter/2026-11/r1.json';
  const T0 = new Date('2026-11-15T10:00:00Z');

  async function setup(o: { retryForMs?: number; store?: ObjectStore; compose?: () => Promise<MailMessage> } = {}) {
    const store = o.store ?? (await folder());
    await store.put(RECORD, JSON.stringify({ alert: { status: 'pending', attempts: 0 } }));
    const { m, impl } = mailer();
    const { lines, log } = logged();
    let now = T0;
    const d = new AlertDelivery({
      store,
      mailer: impl,
      log,
      retryForMs: o.retryForMs ?? 3600_000,
      now: () => now,
      ...(o.compose ? { compose: o.compose } : {}),
    });
    return { store, m, lines, d, tick: (ms: number) => (now = new Date(now.getTime() + ms)) };
  }

  it('says when it retries, when it gives up, and when it will not send again', async () => {
    const { store, m, lines, d, tick } = await setup({ retryForMs: 60_000 });
    m.down = true;
    await d.enqueue('run-r1', RECORD, mail);
    expect(await d.attempt('run-r1', true)).toBe('retry');
    tick(60_000);
    expect(await d.attempt('run-r1', true)).toBe('failed');
    await d.enqueue('run-r2', RECORD, mail);
    const p = (await d.pending())[0]!;
    await store.put(`${PENDING_PREFIX}run-r2.json`, JSON.stringify({ ...p, state: 'sending', attempts: 2 }));
    await store.put(RECORD, JSON.stringify({ alert: { status: 'pending', attempts: 0 } }));
    expect(await d.attempt('run-r2', true)).toBe('uncertain');
    expect(lines).toEqual([
      {
        level: 'warn',
        obj: {
          alert: 'run-r1',
          attempts: 1,
          nextAttemptAt: new Date(T0.getTime() + backoffMs(1)).toISOString(),
          err: 'SendGrid answered 503',
        },
        msg: 'alert not sent: retrying later',
      },
      {
        level: 'error',
        obj: { alert: 'run-r1', attempts: 2, err: 'SendGrid answered 503' },
        msg: 'alert given up: the mail could not be sent in time; the record keeps it',
      },
      {
        level: 'warn',
        obj: { alert: 'run-r2', attempts: 2 },
        msg: 'the alerter stopped during a send: the alert is not sent again (it may have been delivered)',
      },
    ]);
    expect(JSON.parse((await store.get(RECORD)).toString()).alert).toEqual({
      status: 'uncertain',
      attempts: 2,
      at: T0.toISOString().replace('10:00:00', '10:01:00'),
      error: 'the alerter stopped during the send',
    });
  });

  it('writes the queued alert, its attempts and the record as JSON (content type, indented, a final newline)', async () => {
    const folderStore = await folder();
    const log = new CallLog();
    const { store, d, m } = await setup({ store: recordingStore(folderStore, log) });
    m.down = true;
    await d.enqueue('run-r1', RECORD, mail);
    expect(await d.pending()).toMatchObject([{ id: 'run-r1', state: 'pending', attempts: 0 }]);
    const queued = (await store.get(`${PENDING_PREFIX}run-r1.json`)).toString();
    expect(queued).toBe(JSON.stringify(JSON.parse(queued), null, 2) + '\n');
    await d.attempt('run-r1', true);
    const retried = (await store.get(`${PENDING_PREFIX}run-r1.json`)).toString();
    expect(JSON.parse(retried)).toMatchObject({ state: 'pending', attempts: 1 });
    expect(retried).toBe(JSON.stringify(JSON.parse(retried), null, 2) + '\n');
    m.down = false;
    await d.attempt('run-r1', true);
    const record = (await store.get(RECORD)).toString();
    expect(record).toBe(JSON.stringify(JSON.parse(record), null, 2) + '\n');
    expect(log.effects().map((c) => [c.op, c.target, c.opts])).toEqual([
      ['put', RECORD, undefined],
      ['put', `${PENDING_PREFIX}run-r1.json`, { contentType: 'application/json', ifNoneMatch: true }],
      ['put', `${PENDING_PREFIX}run-r1.json`, { contentType: 'application/json' }],
      ['put', 'state/alert-sends/run-r1/1.json', { contentType: 'application/json', ifNoneMatch: true }],
      ['put', `${PENDING_PREFIX}run-r1.json`, { contentType: 'application/json' }],
      ['put', `${PENDING_PREFIX}run-r1.json`, { contentType: 'application/json' }],
      ['put', 'state/alert-sends/run-r1/2.json', { contentType: 'application/json', ifNoneMatch: true }],
      ['put', RECORD, { contentType: 'application/json' }],
      ['delete', `${PENDING_PREFIX}run-r1.json`, undefined],
    ]);
  });

  it.each(['sent', 'failed', 'uncertain'] as const)(
    'drops an alert found mid-send whose record says %s already, mailing nothing and leaving the record',
    async (status) => {
      const { store, m, d } = await setup();
      await d.enqueue('run-r1', RECORD, mail);
      const p = (await d.pending())[0]!;
      await store.put(`${PENDING_PREFIX}run-r1.json`, JSON.stringify({ ...p, state: 'sending', attempts: 1 }));
      const settled = JSON.stringify({ alert: { status, attempts: 1, at: 'earlier' } });
      await store.put(RECORD, settled);
      expect(await d.attempt('run-r1', true)).toBe(status);
      expect(m.calls).toBe(0);
      expect((await store.get(RECORD)).toString()).toBe(settled);
      expect(await d.pending()).toEqual([]);
    },
  );

  it('reports uncertain an alert found mid-send whose record says nothing of it yet', async () => {
    const { store, m, d } = await setup();
    await d.enqueue('run-r1', RECORD, mail);
    const p = (await d.pending())[0]!;
    await store.put(`${PENDING_PREFIX}run-r1.json`, JSON.stringify({ ...p, state: 'sending', attempts: 1 }));
    await store.put(RECORD, JSON.stringify({ runId: 'r1' }));
    expect(await d.attempt('run-r1', true)).toBe('uncertain');
    expect(m.calls).toBe(0);
    expect(JSON.parse((await store.get(RECORD)).toString())).toMatchObject({
      runId: 'r1',
      alert: { status: 'uncertain' },
    });
  });

  it('composes the mail of a grouped alert only: a plain alert sends its own mail', async () => {
    let composed = 0;
    const digest: MailMessage = { ...mail, subject: 'digest' };
    const { m, d } = await setup({
      compose: async () => {
        composed++;
        return digest;
      },
    });
    await d.enqueue('run-r1', RECORD, mail);
    await d.enqueue('bus-x-0-1', RECORD, mail, { digest: true });
    expect(await d.attempt('run-r1', true)).toBe('sent');
    expect(await d.attempt('bus-x-0-1', true)).toBe('sent');
    expect(m.sent.map((s) => s.subject)).toEqual(['s', 'digest']);
    expect(composed).toBe(1);
  });

  it('lists pending alerts oldest first whatever their ids, ids holding ".json" too, and skips one gone meanwhile', async () => {
    const { store, d, tick } = await setup();
    await d.enqueue('run-z', RECORD, mail);
    tick(1_000);
    await d.enqueue('bus-bn.json.dlq-0-7', RECORD, mail);
    tick(1_000);
    await d.enqueue('run-a', RECORD, mail);
    expect((await d.pending()).map((p) => p.id)).toEqual(['run-z', 'bus-bn.json.dlq-0-7', 'run-a']);
    // An alert sent by another replica between the listing and the read is not pending.
    const racing = Object.assign(Object.create(store) as ObjectStore, {
      list: async (prefix: string) => [
        ...(await store.list(prefix)),
        { key: `${PENDING_PREFIX}run-gone.json`, bytes: 1, etag: 'x', modified: T0 },
      ],
    });
    const other = new AlertDelivery({ store: racing, mailer: mailer().impl, log: silentLogger, retryForMs: 1 });
    expect((await other.pending()).map((p) => p.id)).toEqual(['run-z', 'bus-bn.json.dlq-0-7', 'run-a']);
  });

  it('fails an attempt whose alert cannot be read; the sweep logs it and keeps it pending', async () => {
    const { store, d } = await setup();
    await d.enqueue('run-r1', RECORD, mail);
    const down = createError('BN_ERR_STORE_IO', 'HTTP 503 SlowDown', { retriable: true });
    const reads = Object.assign(Object.create(store) as ObjectStore, { get: async () => Promise.reject(down) });
    const blind = new AlertDelivery({ store: reads, mailer: mailer().impl, log: silentLogger, retryForMs: 3600_000 });
    await expect(blind.attempt('run-r1', true)).rejects.toBe(down);
    // The alert is read, but marking it `sending` fails: the sweep goes on, the alert stays pending.
    const writes = Object.assign(Object.create(store) as ObjectStore, { put: async () => Promise.reject(down) });
    const { lines, log } = logged();
    const stuck = new AlertDelivery({ store: writes, mailer: mailer().impl, log, retryForMs: 3600_000 });
    expect(await stuck.sweep()).toBe(1);
    expect(lines).toEqual([
      {
        level: 'warn',
        obj: { alert: 'run-r1', err: 'HTTP 503 SlowDown' },
        msg: 'pending alert: attempt failed (the store?), trying again later',
      },
    ]);
  });
});
