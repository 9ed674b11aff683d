import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FolderStore } from '@bottleneck/shared/adapters/folder-store';
import { dismissMonth } from '@bottleneck/shared/catalog/dismissed';
import type { MailMessage, Mailer } from '@bottleneck/shared/ports/mailer';
import { silentLogger } from '@bottleneck/shared/stage/context';
import { AlertDelivery } from './delivery.js';
import { queueLateAlerts } from './late.js';

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

const ALERT = {
  to: ['d@x.example'],
  from: 'p@x.example',
  pipelineName: 'BottleNeck pipeline',
  consoleUrl: 'https://console.example',
};

describe('late months: one alert per month (BN_FILES_DUE_DAY)', () => {
  it('alerts each late month once, across sweeps and restarts, naming the files missing; a dismissed month never', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bn-late-alert-'));
    dirs.push(dir);
    const store = new FolderStore(dir);
    await store.put('extracts/2026-09/_current.json', '{}');
    await store.put('incoming/2026-10/erp.xlsx', 'x');
    await store.put('incoming/2026-10/web.xlsx', 'x');
    const sent: MailMessage[] = [];
    const mailer: Mailer = {
      send: async (m) => {
        sent.push(m);
        return { id: `m${sent.length}` };
      },
    };
    // Each sweep a new process (a restart): nothing kept in memory between them.
    const sweep = (at: string) =>
      queueLateAlerts(
        store,
        new AlertDelivery({ store, mailer, log: silentLogger, retryForMs: 3600_000 }),
        ALERT,
        5,
        new Date(at),
      );
    expect(await sweep('2026-11-05T22:59:59Z')).toEqual([]);
    expect(await sweep('2026-11-05T23:00:00Z')).toEqual(['2026-10']);
    expect(await sweep('2026-11-05T23:00:10Z')).toEqual([]);
    expect(sent.map((m) => m.subject)).toEqual(['[BottleNeck pipeline] files late for 2026-10: liaison.xlsx']);
    expect(sent[0]!.text).toContain(
      "The BottleNeck pipeline has not received all of 2026-10's files: late: liaison.xlsx was due by 5 November 2026 (BN_FILES_DUE_DAY=5) and has not arrived.",
    );
    expect(sent[0]!.text).toContain('In the console: https://console.example/#/months/2026-10');
    const record = JSON.parse((await store.get('state/late/2026-10.json')).toString('utf8'));
    expect(record).toMatchObject({ partition: '2026-10', missing: ['liaison'], alert: { status: 'sent' } });
    // December: November is late too (nothing arrived for it); October is not alerted again.
    await dismissMonth(store, '2026-11', 'no sales in November', new Date('2026-12-01T00:00:00Z'));
    expect(await sweep('2026-12-20T12:00:00Z')).toEqual([]);
    expect(sent).toHaveLength(1);
  });

  it('a crash between the record and the queueing is made good at the next sweep, once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bn-late-alert-'));
    dirs.push(dir);
    const store = new FolderStore(dir);
    await store.put('incoming/2026-10/erp.xlsx', 'x');
    const { lateMonthsInStore, recordLate } = await import('@bottleneck/shared/catalog/late');
    const now = new Date('2026-11-10T00:00:00Z');
    // The record was written, then the process died before queueing its alert.
    await recordLate(store, (await lateMonthsInStore(store, now, 5))[0]!, now);
    const sent: MailMessage[] = [];
    const mailer: Mailer = { send: async (m) => (sent.push(m), { id: 'm' }) };
    const delivery = new AlertDelivery({ store, mailer, log: silentLogger, retryForMs: 3600_000 });
    expect(await queueLateAlerts(store, delivery, ALERT, 5, now)).toEqual(['2026-10']);
    expect(await queueLateAlerts(store, delivery, ALERT, 5, now)).toEqual([]);
    expect(sent).toHaveLength(1);
  });
});
