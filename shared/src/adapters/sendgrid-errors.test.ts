import { describe, expect, it } from 'vitest';
import { classifySendGridError, isRetriableSendGridStatus, sendGridHintFor } from './sendgrid-errors.js';

/** An error as @sendgrid/client throws it for an HTTP answer. */
const answer = (status: number, headers: Record<string, string> = {}, body: unknown = { errors: [] }) =>
  Object.assign(new Error(`HTTP ${String(status)}`), { code: status, response: { headers, body } });
/** A network failure as axios (inside @sendgrid/client) throws it. */
const network = (code: string) => Object.assign(new Error(`socket ${code}`), { code, isAxiosError: true });
const o = { scrub: (t: string) => t.replaceAll('SG.secret', '[key]'), baseUrl: 'https://api.sendgrid.com', now: 0 };

describe('the SendGrid adapter: which errors a later attempt may cure', () => {
  it.each([
    [400, false],
    [401, false],
    [403, false],
    [404, false],
    [409, false],
    [412, false],
    [413, false],
    [429, true],
    [500, true],
    [502, true],
    [503, true],
  ])('HTTP %i: retriable %s', (status, retriable) => {
    expect(isRetriableSendGridStatus(status)).toBe(retriable);
    const e = classifySendGridError(answer(status), o);
    expect(e).toMatchObject({ code: 'BN_ERR_MAIL_SEND', retriable, details: { status } });
  });

  it.each([
    ['ECONNRESET', true],
    ['ETIMEDOUT', true],
    ['ECONNABORTED', true],
    ['ERR_INVALID_URL', false],
    ['ERR_BAD_OPTION', false],
  ])('no answer, %s: retriable %s', (code, retriable) => {
    expect(classifySendGridError(network(code), o)).toMatchObject({
      retriable,
      details: { network: code },
      message: `could not reach SendGrid at https://api.sendgrid.com: ${code} socket ${code}`,
    });
  });

  it('does not retry what is not SendGrid nor the network', () => {
    expect(classifySendGridError(new TypeError('x is undefined'), o)).toMatchObject({
      retriable: false,
      message: 'sending through SendGrid failed: x is undefined',
    });
  });

  it('keeps Retry-After of a 429 or 5xx (seconds or a date), none without the header, none on other 4xx', () => {
    expect(classifySendGridError(answer(429, { 'retry-after': '3' }), o).details).toEqual({
      status: 429,
      retryAfterMs: 3_000,
    });
    expect(classifySendGridError(answer(503, { 'Retry-After': 'Thu, 01 Jan 1970 00:00:09 GMT' }), o).details).toEqual({
      status: 503,
      retryAfterMs: 9_000,
    });
    expect(classifySendGridError(answer(429), o).details).toEqual({ status: 429 });
    expect(classifySendGridError(answer(400, { 'retry-after': '3' }), o).details).toEqual({ status: 400 });
  });

  it("names SendGrid's error texts, scrubbed of the key, and hints at what to fix", () => {
    const e = classifySendGridError(
      answer(401, {}, { errors: [{ message: 'bad key SG.secret', field: 'authorization' }] }),
      o,
    );
    expect(e.message).toBe(
      'SendGrid answered HTTP 401 to POST /v3/mail/send: authorization: bad key [key] (check SENDGRID_API_KEY: the key is wrong, revoked, or lacks the Mail Send permission)',
    );
    expect(sendGridHintFor(403)).toBe(sendGridHintFor(401));
    expect(sendGridHintFor(429)).toBe(' (rate limited)');
    expect(sendGridHintFor(400)).toBe(
      ' (the message itself was refused: check the sender is verified and the addresses are valid)',
    );
    expect(sendGridHintFor(500)).toBe('');
  });
});
