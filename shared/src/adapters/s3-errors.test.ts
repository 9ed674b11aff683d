import { describe, expect, it } from 'vitest';
import {
  isRetriableS3Error,
  isS3NotFound,
  isS3PreconditionFailed,
  s3HintFor,
  s3RetryAfterMs,
  s3ClientSettingsFor,
} from './s3-errors.js';

/** An error as the AWS SDK throws it for an HTTP answer. */
const answer = (status: number, name = 'Unknown', headers: Record<string, string> = {}) => ({
  name,
  message: name,
  $metadata: { httpStatusCode: status, attempts: 1 },
  $response: { headers },
});
/** An error with no HTTP answer: a socket's code. */
const network = (code: string) => Object.assign(new Error(`socket ${code}`), { code });

describe('the S3 adapter: which errors a later attempt may cure', () => {
  it.each([
    [400, 'InvalidArgument', false],
    [401, 'Unauthorized', false],
    [403, 'AccessDenied', false],
    [404, 'NoSuchKey', false],
    [409, 'BucketAlreadyExists', false],
    [409, 'ConditionalRequestConflict', true],
    [412, 'PreconditionFailed', false],
    [429, 'TooManyRequests', true],
    [500, 'InternalError', true],
    [502, 'BadGateway', true],
    [503, 'SlowDown', true],
    [503, 'ServiceUnavailable', true],
  ])('HTTP %i %s: retriable %s', (status, name, retriable) => {
    expect(isRetriableS3Error(answer(status, name))).toBe(retriable);
  });

  it.each([
    ['ECONNRESET', true],
    ['ECONNREFUSED', true],
    ['ETIMEDOUT', true],
    ['EPIPE', true],
    ['ENOTFOUND', true],
    ['EACCES', false],
  ])('no answer, %s: retriable %s', (code, retriable) => {
    expect(isRetriableS3Error(network(code))).toBe(retriable);
  });

  it('retries the SDK timeouts and throttling names, not an abort or a plain error', () => {
    expect(isRetriableS3Error({ name: 'TimeoutError' })).toBe(true);
    expect(isRetriableS3Error({ name: 'RequestTimeout' })).toBe(true);
    expect(isRetriableS3Error({ name: 'SlowDown' })).toBe(true);
    expect(isRetriableS3Error({ name: 'ThrottlingException' })).toBe(true);
    expect(isRetriableS3Error({ name: 'AbortError', $metadata: { httpStatusCode: 503 } })).toBe(false);
    expect(isRetriableS3Error(new Error('boom'))).toBe(false);
    expect(isRetriableS3Error(undefined)).toBe(false);
    expect(isRetriableS3Error('ECONNRESET')).toBe(false);
  });

  it('tells an absent object (404, NoSuchKey, NotFound) from a missing bucket', () => {
    expect(isS3NotFound(answer(404, 'NotFound'))).toBe(true);
    expect(isS3NotFound({ name: 'NoSuchKey' })).toBe(true);
    expect(isS3NotFound(answer(404, 'NoSuchBucket'))).toBe(false);
    expect(isS3NotFound(answer(403, 'AccessDenied'))).toBe(false);
  });

  it('knows a refused condition: 412 or PreconditionFailed', () => {
    expect(isS3PreconditionFailed(answer(412))).toBe(true);
    expect(isS3PreconditionFailed({ name: 'PreconditionFailed' })).toBe(true);
    expect(isS3PreconditionFailed(answer(409, 'ConditionalRequestConflict'))).toBe(false);
  });

  it('reads Retry-After of a retriable answer (seconds or a date), ignores it on a 4xx that is not 429', () => {
    const now = Date.parse('2026-11-15T10:00:00Z');
    expect(s3RetryAfterMs(answer(429, 'TooManyRequests', { 'retry-after': '7' }), now)).toBe(7_000);
    expect(s3RetryAfterMs(answer(503, 'SlowDown', { 'Retry-After': 'Sun, 15 Nov 2026 10:00:30 GMT' }), now)).toBe(
      30_000,
    );
    expect(s3RetryAfterMs(answer(429, 'TooManyRequests'), now)).toBeUndefined();
    expect(s3RetryAfterMs(answer(403, 'AccessDenied', { 'retry-after': '7' }), now)).toBeUndefined();
    expect(s3RetryAfterMs(answer(503, 'SlowDown', { 'retry-after': 'soon' }), now)).toBeUndefined();
  });

  it('hints at what a person must fix: credentials, a missing bucket', () => {
    expect(s3HintFor(answer(403, 'AccessDenied'), 'b')).toBe(' (check the S3 credentials and the bucket policy)');
    expect(s3HintFor(answer(401), 'b')).toBe(' (check the S3 credentials and the bucket policy)');
    expect(s3HintFor({ name: 'SignatureDoesNotMatch' }, 'b')).toBe(' (check the S3 credentials and the bucket policy)');
    expect(s3HintFor(answer(404, 'NoSuchBucket'), 'b')).toBe(
      ' (bucket b does not exist: create it or fix the bucket setting)',
    );
    expect(s3HintFor(answer(503, 'SlowDown'), 'b')).toBe('');
  });
});

describe("the S3 client's settings", () => {
  it('come from the retry budget: a tenth of it per request, a twentieth per connection, within bounds', () => {
    const t = (b: number) => {
      const { socketTimeoutMs, connectionTimeoutMs } = s3ClientSettingsFor(b);
      return { socketTimeoutMs, connectionTimeoutMs };
    };
    expect(t(600_000)).toEqual({ socketTimeoutMs: 60_000, connectionTimeoutMs: 5_000 });
    expect(t(45_000)).toEqual({ socketTimeoutMs: 4_500, connectionTimeoutMs: 2_250 });
    expect(t(30_000)).toEqual({ socketTimeoutMs: 3_000, connectionTimeoutMs: 1_500 });
    expect(t(5_000)).toEqual({ socketTimeoutMs: 1_000, connectionTimeoutMs: 500 });
    expect(t(1_200_000)).toEqual({ socketTimeoutMs: 60_000, connectionTimeoutMs: 5_000 });
  });

  it("make one SDK attempt per request: the pipeline's retry owns the budget, the SDK must not multiply a frozen request", () => {
    for (const budget of [5_000, 30_000, 600_000]) expect(s3ClientSettingsFor(budget).maxAttempts).toBe(1);
  });
});
