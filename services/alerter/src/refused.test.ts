import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FolderStore } from '@bottleneck/shared/adapters/folder-store';
import type { DeadLetterMessage } from '@bottleneck/shared/ports/bus';
import type { MailMessage } from '@bottleneck/shared/ports/mailer';
import { silentLogger } from '@bottleneck/shared/stage/context';
import { AlertDelivery } from './delivery.js';
import { HOURLY_PREFIX, recordRefused, refusalKind, refusedComposer, REFUSED_PREFIX } from './refused.js';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

const ALERT = { to: ['ops@example.com'], from: 'bn@example.com', pipelineName: 'BN' };
const dl = (offset: number, code: string, partition = '2026-03'): DeadLetterMessage => ({
  sourceTopic: 'bottleneck.file-arrived',
  sourcePartition: 0,
  sourceOffset: String(offset),
  group: 'bottleneck-clean',
  errorClass: 'BottleneckError',
  errorCode: code,
  errorMessage: `refused ${offset}`,
  attempts: 0,
  failedAt: null,
  value: JSON.stringify({ id: `forged-${offset}`, type: 'file-arrived', runId: `2026-03-2099-${offset}`, partition }),
});

async function setup() {
  const d = await mkdtemp(join(tmpdir(), 'bn-refused-'));
  dirs.push(d);
  const store = new FolderStore(d);
  const sent: MailMessage[] = [];
  let now = new Date('2026-12-06T03:10:00Z');
  const delivery = new AlertDelivery({
    store,
    mailer: { send: async (m) => (sent.push(m), { id: `m${sent.length}` }) },
    log: silentLogger,
    retryForMs: 3_600_000,
    now: () => now,
    compose: refusedComposer(store, ALERT),
  });
  const refuse = (m: DeadLetterMessage) =>
    recordRefused(store, delivery, m, refusalKind(m.errorCode) ?? 'invalid', {
      now,
      groupMs: 60_000,
      placeholder: { ...ALERT, subject: 'x', text: '', html: '' },
    });
  return { store, sent, delivery, refuse, at: (iso: string) => (now = new Date(iso)) };
}

describe('refused events', () => {
  it('are kinds of dead letters by their code; a handler that kept failing is none', () => {
    expect(refusalKind('BN_ERR_EVENT_UNSIGNED')).toBe('unsigned');
    expect(refusalKind('BN_ERR_EVENT_SIGNATURE')).toBe('bad-signature');
    expect(refusalKind('BN_ERR_EVENT_INVALID')).toBe('invalid');
    expect(refusalKind('BN_ERR_ASSET_FAILED')).toBeNull();
    expect(refusalKind(null)).toBeNull();
  });

  it('are recorded once each under the month they name, and mailed once per kind and hour with the count and the first few', async () => {
    const { store, sent, delivery, refuse, at } = await setup();
    for (let i = 0; i < 7; i++) expect(await refuse(dl(i, 'BN_ERR_EVENT_UNSIGNED'))).toBe(true);
    // A redelivered dead letter counts nothing twice.
    expect(await refuse(dl(3, 'BN_ERR_EVENT_UNSIGNED'))).toBe(false);
    await refuse(dl(100, 'BN_ERR_EVENT_SIGNATURE', '2026-04'));
    const records = (await store.list(REFUSED_PREFIX)).map((o) => o.key).filter((k) => !k.startsWith(HOURLY_PREFIX));
    expect(records).toHaveLength(8);
    expect(records).toContain('refused/2026-03/bus-bottleneck.file-arrived-0-3.json');
    expect(records).toContain('refused/2026-04/bus-bottleneck.file-arrived-0-100.json');
    // Nothing is sent before the group's wait is over.
    expect(await delivery.sweep()).toBe(2);
    expect(sent).toHaveLength(0);
    at('2026-12-06T03:11:01Z');
    await delivery.sweep();
    expect(sent.map((m) => m.subject).sort()).toEqual([
      '[BN] 1 refused event (bad-signature)',
      '[BN] 7 refused events (unsigned)',
    ]);
    const unsigned = sent.find((m) => m.subject.includes('unsigned'));
    expect(unsigned?.text.split('\n')[0]).toBe(
      '7 events refused in the hour from 2026-12-06 03:00 UTC: each carried no signature.',
    );
    expect(unsigned?.text.match(/^- 2026-03, event forged-\d/gm)).toHaveLength(5);
    // Later in the same hour: counted, not mailed; the next hour has its own mail.
    await refuse(dl(8, 'BN_ERR_EVENT_UNSIGNED'));
    at('2026-12-06T03:59:00Z');
    await delivery.sweep();
    expect(sent).toHaveLength(2);
    at('2026-12-06T04:00:00Z');
    await refuse(dl(9, 'BN_ERR_EVENT_UNSIGNED'));
    at('2026-12-06T04:01:01Z');
    await delivery.sweep();
    expect(sent).toHaveLength(3);
    expect(sent[2]?.subject).toBe('[BN] 1 refused event (unsigned)');
  });

  it('are counted whole when two alerters record them at once (each writes its own member, no shared count to lose)', async () => {
    const { sent, delivery, refuse, at } = await setup();
    // Two replicas' handlings interleaved: every one of them reads and writes at the same time.
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => refuse(dl(i, 'BN_ERR_EVENT_UNSIGNED'))));
    expect(results.every(Boolean)).toBe(true);
    at('2026-12-06T03:11:01Z');
    await delivery.sweep();
    await delivery.sweep();
    expect(sent.map((m) => m.subject)).toEqual(['[BN] 12 refused events (unsigned)']);
    expect(sent[0]?.text.match(/^- 2026-03, event forged-\d+/gm)).toHaveLength(5);
  });
});
