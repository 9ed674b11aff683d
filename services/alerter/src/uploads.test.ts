import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FolderStore } from '@bottleneck/shared/adapters/folder-store';
import { recordUnrecognised, unrecognisedKey } from '@bottleneck/shared/uploads';
import type { MailMessage } from '@bottleneck/shared/ports/mailer';
import { silentLogger } from '@bottleneck/shared/stage/context';
import { AlertDelivery } from './delivery.js';
import { queueUploadAlerts } from './uploads.js';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});
const ALERT = { to: ['ops@example.com'], from: 'bn@example.com', pipelineName: 'BN' };

describe('unrecognised uploads are alerted', () => {
  it('once per key, across restarts of the alerter; the record says the mail went', async () => {
    const d = await mkdtemp(join(tmpdir(), 'bn-upl-'));
    dirs.push(d);
    const store = new FolderStore(d);
    const sent: MailMessage[] = [];
    const delivery = new AlertDelivery({
      store,
      mailer: { send: async (m) => (sent.push(m), { id: `m${sent.length}` }) },
      log: silentLogger,
      retryForMs: 60_000,
    });
    await store.put('incoming/erp.xlsx', 'abc');
    const [o] = await store.list('incoming/');
    await recordUnrecognised(store, o!, 'poll', new Date());
    expect(await queueUploadAlerts(store, delivery, ALERT, new Set())).toBe(1);
    // A second sweep, and a restarted alerter (a fresh memory), queue nothing more.
    expect(await queueUploadAlerts(store, delivery, ALERT, new Set())).toBe(0);
    expect(sent.map((m) => m.subject)).toEqual(['[BN] upload not recognised: incoming/erp.xlsx']);
    expect(sent[0]?.text).toContain(
      'Why: incoming/erp.xlsx has no month folder: put it under incoming/YYYY-MM/ (the month its figures are for)',
    );
    const rec = JSON.parse((await store.get(unrecognisedKey('incoming/erp.xlsx'))).toString('utf8')) as {
      alert: { status: string };
    };
    expect(rec.alert.status).toBe('sent');
  });
});
