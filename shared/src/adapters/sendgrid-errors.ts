import { BottleneckError, createError } from '../errors/index.js';
import { headerOf, parseRetryAfter } from './retry-after.js';

// How the SendGrid mailer classifies what @sendgrid/mail throws: pure functions (no SDK import), so
// that the whole table is unit-tested without a server (sendgrid-errors.test.ts).

/** axios codes for a request that was never valid: retrying cannot help. */
const CONFIG_CODES = new Set([
  'ERR_INVALID_URL',
  'ERR_BAD_OPTION',
  'ERR_BAD_OPTION_VALUE',
  'ERR_NOT_SUPPORT',
  'ERR_DEPRECATED',
]);

interface ResponseErrorLike {
  code: number;
  message?: string;
  response: { headers?: Record<string, unknown>; body?: unknown };
}

export function isResponseError(e: unknown): e is ResponseErrorLike {
  return Boolean(
    e &&
    typeof e === 'object' &&
    typeof (e as { code?: unknown }).code === 'number' &&
    (e as { response?: unknown }).response,
  );
}

/** The `errors[].message` texts of a SendGrid error body. */
function errorTexts(body: unknown): string[] {
  const errors = body && typeof body === 'object' ? (body as { errors?: unknown }).errors : undefined;
  if (!Array.isArray(errors)) return [];
  return errors.flatMap((x) => {
    const m = x && typeof x === 'object' ? (x as { message?: unknown; field?: unknown }) : {};
    if (typeof m.message !== 'string') return [];
    return [typeof m.field === 'string' && m.field ? `${m.field}: ${m.message}` : m.message];
  });
}

export function sendGridHintFor(status: number): string {
  if (status === 401 || status === 403)
    return ' (check SENDGRID_API_KEY: the key is wrong, revoked, or lacks the Mail Send permission)';
  if (status === 429) return ' (rate limited)';
  if (status === 400 || status === 413)
    return ' (the message itself was refused: check the sender is verified and the addresses are valid)';
  return '';
}

/** Whether a later attempt may succeed after SendGrid answered `status`: throttling (429) and server errors (5xx). */
export function isRetriableSendGridStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

/**
 * A SendGrid or network failure as BN_ERR_MAIL_SEND, without the request (its headers hold the
 * key): 429 and 5xx are retriable (with the server's Retry-After in `details.retryAfterMs`), every
 * other status is not; a network failure is, unless the request itself was invalid.
 */
export function classifySendGridError(
  e: unknown,
  o: { scrub: (text: string) => string; baseUrl: string; now?: number },
): BottleneckError {
  if (isResponseError(e)) {
    const status = e.code;
    const retriable = isRetriableSendGridStatus(status);
    const retryAfterMs = retriable ? parseRetryAfter(headerOf(e.response.headers, 'retry-after'), o.now) : undefined;
    const texts = errorTexts(e.response.body).map(o.scrub);
    const detail = texts.length ? `: ${texts.join('; ').slice(0, 500)}` : '';
    return createError(
      'BN_ERR_MAIL_SEND',
      `SendGrid answered HTTP ${status} to POST /v3/mail/send${detail}${sendGridHintFor(status)}`,
      {
        retriable,
        details: {
          status,
          ...(texts.length ? { errors: texts } : {}),
          ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
        },
      },
    );
  }
  const f = e && typeof e === 'object' ? (e as { code?: unknown; message?: unknown; isAxiosError?: unknown }) : {};
  const code = typeof f.code === 'string' ? f.code : undefined;
  const message = o.scrub(typeof f.message === 'string' ? f.message : String(e));
  if (f.isAxiosError === true) {
    return createError(
      'BN_ERR_MAIL_SEND',
      `could not reach SendGrid at ${o.scrub(o.baseUrl)}: ${code ? `${code} ` : ''}${message}`,
      {
        retriable: !(code && CONFIG_CODES.has(code)),
        details: code ? { network: code } : {},
      },
    );
  }
  return createError('BN_ERR_MAIL_SEND', `sending through SendGrid failed: ${message}`, { retriable: false });
}
