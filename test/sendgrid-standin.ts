/**
 * A stand-in for SendGrid's `POST /v3/mail/send` on 127.0.0.1, so that integration tests drive the
 * real SendGrid SDK (axios, headers, error handling) without the network. It answers like
 * SendGrid: 401 without `Authorization: Bearer <key>`, 400 with SendGrid's `errors[]` for a body
 * SendGrid would refuse, 202 with an `X-Message-Id` otherwise; `failNext` makes it answer 429 or
 * 5xx for the next requests; `failUntilRecovered` and `hangUntilRecovered` make an outage that
 * lasts until `recover()` (the fault suite).
 */
import { randomBytes } from 'node:crypto';
import Fastify from 'fastify';
import type { SendGridPayload } from '../shared/src/ports/mailer.js';

/** A key that looks like SendGrid's (`SG.<id>.<secret>`), so redactSecrets recognises it. */
export const STANDIN_API_KEY = `SG.standin${randomBytes(6).toString('hex')}.${randomBytes(16).toString('hex')}`;

export interface StandIn {
  /** Base URL for the SDK, e.g. http://127.0.0.1:41234 (no trailing slash). */
  url: string;
  /** The bodies answered 202, in order: what SendGrid would have delivered. */
  received(): SendGridPayload[];
  /** Every `POST /v3/mail/send` seen, whatever the answer (to count retries). */
  attempts(): number;
  /** Answer `status` (429, 500, 503...) to the next `n` requests, before looking at them. */
  failNext(status: number, n: number): void;
  /** An outage: answer `status` to every request until `recover()`. */
  failUntilRecovered(status: number): void;
  /**
   * An outage where requests hang (no answer) until `recover()`, which then answers them 503. With
   * `accept`, each mail is first taken (counted in received(), as SendGrid would deliver it) and
   * only the answer hangs: the sender cannot know it was sent.
   */
  hangUntilRecovered(o?: { accept?: boolean }): void;
  /** Ends an outage (failNext's count too); hung requests are answered 503. */
  recover(): void;
  close(): Promise<void>;
}

interface SendGridError {
  field: string | null;
  message: string;
  help: string | null;
}

const isObject = (v: unknown): v is Record<string, unknown> => Boolean(v) && typeof v === 'object' && !Array.isArray(v);
const isEmail = (v: unknown): boolean => typeof v === 'string' && /^[^\s@<>]+@[^\s@<>]+$/.test(v);

/** What SendGrid refuses in a v3 mail/send body (the subset of its checks our payloads can hit). */
export function payloadErrors(body: unknown): SendGridError[] {
  const errors: SendGridError[] = [];
  const bad = (field: string, message: string) => errors.push({ field, message, help: null });
  if (!isObject(body)) {
    bad('', 'Bad Request: the body is not a JSON object');
    return errors;
  }
  const ps = body.personalizations;
  if (!Array.isArray(ps) || ps.length === 0)
    bad('personalizations', 'The personalizations field is required and must have at least one personalization.');
  else {
    ps.forEach((p, i) => {
      const to = isObject(p) ? p.to : undefined;
      if (!Array.isArray(to) || to.length === 0)
        bad(
          `personalizations.${i}.to`,
          'The to array is required for all personalization objects, and must have at least one email object with a valid email address.',
        );
      else
        to.forEach((t, j) => {
          if (!isObject(t) || !isEmail(t.email))
            bad(`personalizations.${i}.to.${j}.email`, 'Does not contain a valid address.');
        });
    });
  }
  if (!isObject(body.from) || !isEmail(body.from.email))
    bad('from.email', 'The from email does not contain a valid address.');
  if (typeof body.subject !== 'string' || body.subject.length === 0)
    bad(
      'subject',
      'The subject is required. You can get around this requirement if you use a template with a subject defined or if every personalization has a subject defined.',
    );
  const content = body.content;
  if (!Array.isArray(content) || content.length === 0)
    bad(
      'content',
      'Unless a valid template_id is provided, the content parameter is required. There must be at least one defined content block.',
    );
  else {
    content.forEach((c, i) => {
      if (!isObject(c) || typeof c.type !== 'string' || c.type.length === 0)
        bad(
          `content.${i}.type`,
          'The content type cannot contain ";", or CRLF characters and must be at least 1 character long.',
        );
      else if (typeof c.value !== 'string' || c.value.length === 0)
        bad(`content.${i}.value`, 'The content value must be a string at least one character in length.');
    });
    const types = content.map((c) => (isObject(c) ? c.type : undefined));
    const leading = ['text/plain', 'text/html'].filter((t) => types.includes(t));
    if (leading.some((t, i) => types[i] !== t))
      bad(
        'content',
        'If present, text/plain and text/html may only be provided in that order and must be the first content blocks.',
      );
  }
  if (body.custom_args !== undefined) {
    if (!isObject(body.custom_args) || Object.values(body.custom_args).some((v) => typeof v !== 'string'))
      bad('custom_args', 'Invalid type. Expected: object with string values.');
  }
  return errors;
}

/**
 * Starts the stand-in on a free port (or `port`) of 127.0.0.1, or of `host` (the container test: the
 * gateway of its podman network, which the containers reach as host.containers.internal).
 *
 * @example
 * const sg = await start();
 * const mailer = new SendGridMailer({ apiKey: STANDIN_API_KEY, baseUrl: sg.url });
 * sg.failNext(429, 1);
 */
export async function start(opts: { apiKey?: string; host?: string; port?: number } = {}): Promise<StandIn> {
  const apiKey = opts.apiKey ?? STANDIN_API_KEY;
  const received: SendGridPayload[] = [];
  let attempts = 0;
  let failStatus = 0;
  let failLeft = 0;
  let hanging: false | 'before' | 'after-accept' = false;
  const hung: (() => void)[] = [];

  const app = Fastify({ logger: false });
  app.post('/v3/mail/send', async (req, reply) => {
    attempts++;
    if (
      hanging === 'after-accept' &&
      req.headers.authorization === `Bearer ${apiKey}` &&
      payloadErrors(req.body).length === 0
    ) {
      received.push(structuredClone(req.body) as SendGridPayload);
    }
    if (hanging) {
      await new Promise<void>((resolve) => hung.push(resolve));
      return reply.code(503).send({ errors: [{ field: null, message: 'service unavailable', help: null }] });
    }
    if (failLeft > 0) {
      failLeft--;
      const message = failStatus === 429 ? 'too many requests' : 'internal server error';
      if (failStatus === 429) void reply.header('Retry-After', '1');
      return reply.code(failStatus).send({ errors: [{ field: null, message, help: null }] });
    }
    if (req.headers.authorization !== `Bearer ${apiKey}`) {
      return reply.code(401).send({
        errors: [
          { field: null, message: 'The provided authorization grant is invalid, expired, or revoked', help: null },
        ],
      });
    }
    const errors = payloadErrors(req.body);
    if (errors.length) return reply.code(400).send({ errors });
    received.push(structuredClone(req.body) as SendGridPayload);
    return reply.code(202).header('X-Message-Id', randomBytes(11).toString('base64url')).send('');
  });

  const address = await app.listen({ host: opts.host ?? '127.0.0.1', port: opts.port ?? 0 });
  return {
    url: address.replace(/\/+$/, ''),
    received: () => received.map((p) => structuredClone(p)),
    attempts: () => attempts,
    failNext(status: number, n: number) {
      if (!Number.isInteger(status) || status < 400 || status > 599)
        throw new Error(`failNext: status must be an HTTP error status, not ${status}`);
      failStatus = status;
      failLeft = n;
    },
    failUntilRecovered(status: number) {
      if (!Number.isInteger(status) || status < 400 || status > 599)
        throw new Error(`failUntilRecovered: status must be an HTTP error status, not ${status}`);
      failStatus = status;
      failLeft = Number.POSITIVE_INFINITY;
    },
    hangUntilRecovered(o: { accept?: boolean } = {}) {
      hanging = o.accept ? 'after-accept' : 'before';
    },
    recover() {
      failLeft = 0;
      hanging = false;
      for (const r of hung.splice(0)) r();
    },
    close: async () => {
      hanging = false;
      for (const r of hung.splice(0)) r();
      await app.close();
    },
  };
}
