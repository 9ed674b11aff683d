import { afterEach, beforeEach, describe, expect } from 'vitest';
import type { MailMessage, Mailer, SendGridPayload } from '../../ports/mailer.js';
import { contractIt, uniqueTag, type ContractOptions } from './helpers.js';

export type { ContractOptions } from './helpers.js';

/** What a mailer contract run needs: a fresh mailer, and what reached the provider. */
export interface MailerFixture {
  mailer: Mailer;
  /** The SendGrid `POST /v3/mail/send` bodies sent so far (the outbox files, or what a fake SendGrid received). */
  sent(): Promise<SendGridPayload[]>;
  cleanup(): Promise<void>;
}

/**
 * The behaviour every Mailer adapter must have, as a vitest suite: whatever the transport, what
 * reaches SendGrid is the same body. Subjects carry a unique tag, so a shared fake server is fine.
 *
 * @example
 * mailerContract('OutboxMailer', async () => {
 *   const dir = await mkdtemp(join(tmpdir(), 'bn-outbox-'));
 *   return { mailer: new OutboxMailer(dir), sent: () => readOutbox(dir), cleanup: () => rm(dir, { recursive: true }) };
 * });
 */
export function mailerContract(name: string, make: () => Promise<MailerFixture>, options: ContractOptions = {}): void {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const { test, done } = contractIt(options, timeoutMs);

  describe(`Mailer contract: ${name}`, () => {
    let fx: MailerFixture;
    let tag: string;

    beforeEach(async () => {
      fx = await make();
      tag = uniqueTag('mail');
    }, timeoutMs);

    afterEach(async () => {
      await fx.cleanup();
    }, timeoutMs);

    const mine = async () => (await fx.sent()).filter((p) => p.subject.includes(tag));

    test('sends the SendGrid body: recipients, sender, subject, text then html, tags as custom_args', async () => {
      const msg: MailMessage = {
        to: ['ops@bottleneck.example', 'data@bottleneck.example'],
        from: 'pipeline@bottleneck.example',
        subject: `[BottleNeck pipeline] run failed at stage clean for 2026-12 (${tag})`,
        text: 'erp.xlsx, sheet "Sheet1", column "price", row 12: "vingt euros" is not a number.\nRun: r-1 \u2013 Ch\u00e2teau',
        html: '<p>erp.xlsx, sheet &quot;Sheet1&quot;, column &quot;price&quot;, row 12</p>',
        tags: { runId: 'r-1', partition: '2026-12', stage: 'clean' },
      };
      const r = await fx.mailer.send(msg);
      expect(typeof r.id).toBe('string');
      expect(r.id.length).toBeGreaterThan(0);
      expect(await mine()).toEqual([
        {
          personalizations: [{ to: [{ email: 'ops@bottleneck.example' }, { email: 'data@bottleneck.example' }] }],
          from: { email: 'pipeline@bottleneck.example' },
          subject: msg.subject,
          content: [
            { type: 'text/plain', value: msg.text },
            { type: 'text/html', value: msg.html },
          ],
          custom_args: { runId: 'r-1', partition: '2026-12', stage: 'clean' },
        },
      ]);
    });

    test('sends no custom_args when the message has no tags', async () => {
      const base = { to: ['ops@bottleneck.example'], from: 'pipeline@bottleneck.example', text: 't', html: '<p>t</p>' };
      await fx.mailer.send({ ...base, subject: `no tags ${tag}` });
      await fx.mailer.send({ ...base, subject: `empty tags ${tag}`, tags: {} });
      const got = await mine();
      expect(got).toHaveLength(2);
      for (const p of got) expect(Object.hasOwn(p, 'custom_args')).toBe(false);
    });

    test('sends each message once, with its own id', async () => {
      const base = { to: ['ops@bottleneck.example'], from: 'pipeline@bottleneck.example', text: 't', html: '<p>t</p>' };
      const ids = [];
      for (let i = 0; i < 3; i++) ids.push((await fx.mailer.send({ ...base, subject: `message ${i} ${tag}` })).id);
      expect(new Set(ids).size).toBe(3);
      expect((await mine()).map((p) => p.subject).sort()).toEqual([0, 1, 2].map((i) => `message ${i} ${tag}`));
    });

    done();
  });
}
