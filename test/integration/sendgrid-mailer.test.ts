/**
 * SendGridMailer through the real SendGrid client (axios, its headers and errors) against a local
 * stand-in of `POST /v3/mail/send` (test/sendgrid-standin.ts): the Mailer contract, then retries,
 * error classification and the API key's secrecy.
 */
import { inspect } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SendGridMailer, type SendGridMailerOptions } from '../../shared/src/adapters/sendgrid-mailer.js';
import { toSendGridPayload, type MailMessage } from '../../shared/src/ports/mailer.js';
import { mailerContract } from '../../shared/src/testing/contracts/mailer.js';
import { STANDIN_API_KEY, start, type StandIn } from '../sendgrid-standin.js';

mailerContract('SendGridMailer (real SDK, local stand-in)', async () => {
  const sg = await start();
  return {
    mailer: new SendGridMailer({ apiKey: STANDIN_API_KEY, baseUrl: sg.url }),
    sent: async () => sg.received(),
    cleanup: () => sg.close(),
  };
});

const msg: MailMessage = {
  to: ['ops@bottleneck.example', 'data@bottleneck.example'],
  from: 'pipeline@bottleneck.example',
  subject: '[BottleNeck pipeline] run failed at stage clean for 2026-11',
  text: 'erp.xlsx, sheet "Sheet1", column "price", row 12: "vingt euros" is not a number.\nCh\u00e2teau \u2013 \u2713',
  html: '<p>erp.xlsx, sheet &quot;Sheet1&quot;, column &quot;price&quot;, row 12</p>',
  tags: { runId: '2026-11-20261126T064500-abc123', partition: '2026-11', stage: 'clean' },
};

/** Short backoff so that the retry tests take milliseconds. */
const fast: Partial<SendGridMailerOptions> = { initialDelayMs: 5, maxDelayMs: 20 };

describe('SendGridMailer against the stand-in', () => {
  let sg: StandIn;
  beforeAll(async () => {
    sg = await start();
  });
  afterAll(async () => {
    await sg.close();
  });
  let before = 0;
  let seen = 0;
  afterEach(() => {
    before = sg.received().length;
    seen = sg.attempts();
  });
  const newReceived = () => sg.received().slice(before);
  const newAttempts = () => sg.attempts() - seen;

  it('202: posts exactly toSendGridPayload(msg), same keys in the same order, and returns the X-Message-Id', async () => {
    const mailer = new SendGridMailer({ apiKey: STANDIN_API_KEY, baseUrl: sg.url });
    const r = await mailer.send(msg);
    expect(r.id).toMatch(/^[A-Za-z0-9_-]{15}$/);
    const got = newReceived();
    expect(got).toEqual([toSendGridPayload(msg)]);
    // Same JSON text, so the outbox file and the SendGrid body cannot differ (@sendgrid/mail's builder reorders keys).
    expect(JSON.stringify(got[0])).toBe(JSON.stringify(toSendGridPayload(msg)));
    expect(newAttempts()).toBe(1);
  });

  it('429 then 202: retried, delivered once', async () => {
    const retries: unknown[] = [];
    const mailer = new SendGridMailer({
      apiKey: STANDIN_API_KEY,
      baseUrl: sg.url,
      ...fast,
      onRetry: (e, attempt) => retries.push([e.message, e.retriable, attempt]),
    });
    sg.failNext(429, 1);
    await mailer.send(msg);
    expect(newAttempts()).toBe(2);
    expect(newReceived()).toEqual([toSendGridPayload(msg)]);
    expect(retries).toEqual([
      ['SendGrid answered HTTP 429 to POST /v3/mail/send: too many requests (rate limited)', true, 1],
    ]);
  });

  it('500 forever: gives up after the bounded attempts with a retriable BN_ERR_MAIL_SEND', async () => {
    const mailer = new SendGridMailer({ apiKey: STANDIN_API_KEY, baseUrl: sg.url, ...fast, retries: 2 });
    sg.failNext(500, 1_000);
    try {
      await expect(mailer.send(msg)).rejects.toMatchObject({
        name: 'BottleneckError',
        code: 'BN_ERR_MAIL_SEND',
        retriable: true,
        message: 'SendGrid answered HTTP 500 to POST /v3/mail/send: internal server error (gave up after 3 attempts)',
        details: { status: 500, attempts: 3, errors: ['internal server error'] },
      });
      expect(newAttempts()).toBe(3);
      expect(newReceived()).toEqual([]);
    } finally {
      sg.failNext(500, 0);
    }
  });

  it('retries: 0 makes one attempt and leaves the retriable error to the caller', async () => {
    const mailer = new SendGridMailer({ apiKey: STANDIN_API_KEY, baseUrl: sg.url, retries: 0 });
    sg.failNext(503, 1);
    await expect(mailer.send(msg)).rejects.toMatchObject({
      code: 'BN_ERR_MAIL_SEND',
      retriable: true,
      message: 'SendGrid answered HTTP 503 to POST /v3/mail/send: internal server error',
      details: { status: 503, attempts: 1 },
    });
    expect(newAttempts()).toBe(1);
  });

  it('401 with a wrong key: not retried, and the key is nowhere in the error', async () => {
    const wrongKey = ['SG', 'wrongKey0123456789', 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG'].join('.');
    const mailer = new SendGridMailer({ apiKey: wrongKey, baseUrl: sg.url, ...fast });
    const err = await mailer.send(msg).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'BN_ERR_MAIL_SEND',
      retriable: false,
      message:
        'SendGrid answered HTTP 401 to POST /v3/mail/send: The provided authorization grant is invalid, expired, or revoked (check SENDGRID_API_KEY: the key is wrong, revoked, or lacks the Mail Send permission)',
      details: { status: 401, attempts: 1 },
    });
    expect(newAttempts()).toBe(1);
    expect(newReceived()).toEqual([]);
    // Nothing reachable from the error holds the key: not the message, the details, the stack, nor a cause.
    const everything = `${inspect(err, { depth: 10, showHidden: true })} ${JSON.stringify(err)} ${(err as Error).stack}`;
    expect(everything).not.toContain(wrongKey);
    expect(everything).not.toContain('wrongKey0123456789');
    expect((err as Error).cause).toBeUndefined();
  });

  it("400 (a body SendGrid refuses): not retried, SendGrid's field errors in the message", async () => {
    const mailer = new SendGridMailer({ apiKey: STANDIN_API_KEY, baseUrl: sg.url, ...fast });
    await expect(mailer.send({ ...msg, html: '' })).rejects.toMatchObject({
      code: 'BN_ERR_MAIL_SEND',
      retriable: false,
      message:
        'SendGrid answered HTTP 400 to POST /v3/mail/send: content.1.value: The content value must be a string at least one character in length. (the message itself was refused: check the sender is verified and the addresses are valid)',
      details: { status: 400, attempts: 1 },
    });
    expect(newAttempts()).toBe(1);
  });

  it('an unreachable SendGrid is retriable, after the bounded attempts, with no key in the error', async () => {
    const gone = await start();
    const url = gone.url;
    await gone.close();
    const mailer = new SendGridMailer({ apiKey: STANDIN_API_KEY, baseUrl: url, ...fast, retries: 1 });
    const err = await mailer.send(msg).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'BN_ERR_MAIL_SEND',
      retriable: true,
      message: `could not reach SendGrid at ${url}: ECONNREFUSED connect ECONNREFUSED ${new URL(url).host} (gave up after 2 attempts)`,
      details: { network: 'ECONNREFUSED', attempts: 2 },
    });
    expect(inspect(err, { depth: 10, showHidden: true })).not.toContain(STANDIN_API_KEY);
  });

  it('refuses a missing key or a bad base URL at construction', () => {
    expect(() => new SendGridMailer({ apiKey: ' ' })).toThrow(
      expect.objectContaining({
        code: 'BN_ERR_CONFIG_INVALID',
        message: 'SendGridMailer needs an API key: set SENDGRID_API_KEY or SENDGRID_API_KEY_FILE',
      }),
    );
    expect(() => new SendGridMailer({ apiKey: STANDIN_API_KEY, baseUrl: 'ftp://example.com' })).toThrow(
      expect.objectContaining({
        code: 'BN_ERR_CONFIG_INVALID',
        message: 'SendGrid base URL "ftp://example.com" is not http(s): give one like https://api.sendgrid.com',
      }),
    );
  });
});

describe('the stand-in itself', () => {
  let sg: StandIn;
  beforeAll(async () => {
    sg = await start();
  });
  afterAll(async () => {
    await sg.close();
  });
  const post = (body: unknown, key = STANDIN_API_KEY) =>
    fetch(`${sg.url}/v3/mail/send`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('answers 202 to a valid body and 401 to a wrong key', async () => {
    const ok = await post(toSendGridPayload(msg));
    expect(ok.status).toBe(202);
    expect(ok.headers.get('x-message-id')).toBeTruthy();
    expect((await post(toSendGridPayload(msg), 'SG.other.key')).status).toBe(401);
  });

  it('answers 400 with SendGrid-style errors to a body of the wrong shape', async () => {
    const res = await post({
      personalizations: [{ to: [{ address: 'x@y.z' }] }],
      from: 'a@b.c',
      content: [
        { type: 'text/html', value: 'h' },
        { type: 'text/plain', value: 't' },
      ],
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { errors: { field: string }[] }).errors.map((e) => e.field)).toEqual([
      'personalizations.0.to.0.email',
      'from.email',
      'subject',
      'content',
    ]);
  });
});
