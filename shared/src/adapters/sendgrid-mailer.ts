import { randomBytes } from 'node:crypto';
import { Client } from '@sendgrid/client';
import sendgrid from '@sendgrid/mail';

type MailService = typeof sendgrid;
// The package's typings describe its default instance; the class is exported beside it at run time.
const { MailService: MailServiceClass } = sendgrid as unknown as { MailService: new () => MailService };
import { BottleneckError, createError } from '../errors/index.js';
import { toSendGridPayload, type MailMessage, type Mailer, type SendResult } from '../ports/mailer.js';
import { withRetry } from '../retry/index.js';
import { redactSecrets } from '../text/redact.js';
import { classifySendGridError } from './sendgrid-errors.js';

export interface SendGridMailerOptions {
  /** The API key (see `readSecret('SENDGRID_API_KEY')`). It never appears in an error or a log line. */
  apiKey: string;
  /** The API's base URL (default https://api.sendgrid.com; https://api.eu.sendgrid.com for EU residency; a local stand-in in tests). */
  baseUrl?: string;
  /** Milliseconds one request may take (default 10,000). */
  timeoutMs?: number;
  /**
   * Retries after the first attempt for 429, 5xx and network failures (default 2, so 3 attempts),
   * with jittered exponential backoff. 0 leaves retrying to the caller.
   */
  retries?: number;
  /** First backoff in milliseconds (default 500), doubled per retry up to `maxDelayMs` (default 8,000). */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Called before each retry with the (redacted) error that caused it. */
  onRetry?: (e: BottleneckError, attempt: number, delayMs: number) => void;
}

const DEFAULT_BASE_URL = 'https://api.sendgrid.com';

/**
 * The mailer on SendGrid's v3 API, through @sendgrid/mail's MailService on a configured client
 * (base URL, timeout). The body it posts is exactly `toSendGridPayload(msg)`, what the outbox
 * records: the payload is handed over already in SendGrid's shape and key order, so the SDK's
 * builder has nothing to change (the integration test compares the received text).
 *
 * 429, 5xx and network failures are retried (bounded, jittered backoff); then, or at once for any
 * other 4xx, it throws BN_ERR_MAIL_SEND with `retriable` saying whether a later try may succeed and
 * `details.attempts`. Errors carry the status and SendGrid's error texts, never the request (whose
 * headers hold the key); every message is scrubbed of the key and redacted.
 *
 * @example
 * const mailer = new SendGridMailer({ apiKey: readSecret('SENDGRID_API_KEY') });
 * await mailer.send({ to: ['ops@example.com'], from: 'pipeline@example.com', subject, text, html });
 */
export class SendGridMailer implements Mailer {
  readonly baseUrl: string;
  private readonly client: Client;
  private readonly mail: MailService;
  private readonly scrub: (text: string) => string;

  constructor(private readonly opts: SendGridMailerOptions) {
    const apiKey = opts.apiKey.trim();
    if (!apiKey)
      throw createError(
        'BN_ERR_CONFIG_INVALID',
        'SendGridMailer needs an API key: set SENDGRID_API_KEY or SENDGRID_API_KEY_FILE',
      );
    const baseUrl = opts.baseUrl ?? DEFAULT_BASE_URL;
    let url: URL;
    try {
      url = new URL(baseUrl);
    } catch {
      throw createError(
        'BN_ERR_CONFIG_INVALID',
        `SendGrid base URL ${JSON.stringify(redactSecrets(baseUrl))} is not a URL: give one like ${DEFAULT_BASE_URL}`,
      );
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw createError(
        'BN_ERR_CONFIG_INVALID',
        `SendGrid base URL ${JSON.stringify(redactSecrets(baseUrl))} is not http(s): give one like ${DEFAULT_BASE_URL}`,
      );
    }
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.scrub = (text) => redactSecrets(text.split(apiKey).join('[redacted]'));
    this.client = new Client();
    this.client.setApiKey(apiKey);
    // setApiKey resets the base URL to SendGrid's global host: set ours after it.
    this.client.setDefaultRequest('baseUrl', `${this.baseUrl}/`);
    // What MailService.setTimeout does; the client's typings omit the axios `timeout` option.
    const setDefault = this.client.setDefaultRequest.bind(this.client) as (key: string, value: unknown) => Client;
    setDefault('timeout', opts.timeoutMs ?? 10_000);
    // @sendgrid/mail builds and sends the request, through our configured client.
    this.mail = new MailServiceClass();
    this.mail.setClient(this.client);
  }

  async send(msg: MailMessage): Promise<SendResult> {
    const body = toSendGridPayload(msg);
    let attempts = 0;
    try {
      return await withRetry(
        async () => {
          attempts++;
          try {
            const [res] = await this.mail.send({
              from: body.from,
              subject: body.subject,
              personalizations: body.personalizations,
              content: body.content,
              ...(body.custom_args ? { customArgs: body.custom_args } : {}),
            } as never);
            const id: unknown = (res.headers as Record<string, unknown> | undefined)?.['x-message-id'];
            return { id: typeof id === 'string' && id ? id : `sendgrid-${randomBytes(8).toString('hex')}` };
          } catch (e) {
            throw this.classify(e);
          }
        },
        {
          retries: this.opts.retries ?? 2,
          initialDelayMs: this.opts.initialDelayMs ?? 500,
          maxDelayMs: this.opts.maxDelayMs ?? 8_000,
          shouldRetry: (e) => e instanceof BottleneckError && e.retriable,
          ...(this.opts.onRetry
            ? {
                onRetry: (e: unknown, attempt: number, delayMs: number) => {
                  // shouldRetry retries only BottleneckErrors: this always holds.
                  if (e instanceof BottleneckError) this.opts.onRetry?.(e, attempt, delayMs);
                },
              }
            : {}),
        },
      );
    } catch (e) {
      // withRetry wraps the last failure once attempts run out; report that failure itself, with the count.
      const last = e instanceof BottleneckError && e.code === 'BN_ERR_RETRIES_EXHAUSTED' ? e.cause : e;
      if (!(last instanceof BottleneckError)) throw last;
      const d = last.details;
      const tries = attempts > 1 ? ` (gave up after ${attempts} attempts)` : '';
      throw createError('BN_ERR_MAIL_SEND', `${last.message}${tries}`, {
        retriable: last.retriable,
        details: {
          ...(d?.status !== undefined ? { status: d.status } : {}),
          ...(d?.errors ? { errors: d.errors } : {}),
          ...(d?.network ? { network: d.network } : {}),
          ...(d?.retryAfterMs !== undefined ? { retryAfterMs: d.retryAfterMs } : {}),
          attempts,
        },
      });
    }
  }

  private classify(e: unknown): BottleneckError {
    return classifySendGridError(e, { scrub: this.scrub, baseUrl: this.baseUrl });
  }
}
