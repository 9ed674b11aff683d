import { requestTimeoutFor } from '../retry/index.js';
import { headerOf, parseRetryAfter } from './retry-after.js';

// How the S3 adapter classifies what the SDK throws: pure functions of the error's fields (no SDK
// import), so that the whole table is unit-tested without a server (s3-errors.test.ts).

export interface SdkError {
  name?: string;
  message?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number; attempts?: number; requestId?: string };
  $response?: { headers?: Record<string, unknown> };
  $retryable?: unknown;
}

/** Throttling error names the SDK knows (from @smithy's retry classification). */
const THROTTLING = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'RequestThrottled',
  'RequestLimitExceeded',
  'BandwidthLimitExceeded',
]);
/** Errors with no HTTP answer that a later attempt may not meet: network and timeouts. */
const NETWORK = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNABORTED',
]);
const TIMEOUTS = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);

export function sdkFields(e: unknown): SdkError {
  return e && typeof e === 'object' ? e : {};
}

export function statusOf(e: unknown): number | undefined {
  return sdkFields(e).$metadata?.httpStatusCode;
}

/** The object is absent (a missing bucket is a configuration error, not an absent object). */
export function isS3NotFound(e: unknown): boolean {
  const { name } = sdkFields(e);
  if (name === 'NoSuchBucket') return false;
  return statusOf(e) === 404 || name === 'NoSuchKey' || name === 'NotFound';
}

/** A conditional request refused: 412 (If-None-Match on an existing key, If-Match on another version). */
export function isS3PreconditionFailed(e: unknown): boolean {
  return statusOf(e) === 412 || sdkFields(e).name === 'PreconditionFailed';
}

/** Whether a later attempt may succeed: throttling, 5xx, timeouts and network failures. 403, 404 and other 4xx never. */
export function isRetriableS3Error(e: unknown): boolean {
  const { name = '', code = '' } = sdkFields(e);
  const status = statusOf(e);
  if (name === 'AbortError') return false;
  if (status === 429 || (status !== undefined && status >= 500)) return true;
  if (THROTTLING.has(name) || TIMEOUTS.has(name)) return true;
  // S3 answers 409 ConditionalRequestConflict when a conditional write races another: try again.
  if (status === 409 && name === 'ConditionalRequestConflict') return true;
  if (status !== undefined) return false;
  return NETWORK.has(code) || NETWORK.has(name);
}

/** How long the server asked to wait (its `Retry-After`), for a retriable answer; undefined otherwise. */
export function s3RetryAfterMs(e: unknown, now: number = Date.now()): number | undefined {
  if (!isRetriableS3Error(e)) return undefined;
  return parseRetryAfter(headerOf(sdkFields(e).$response?.headers, 'retry-after'), now);
}

/** A hint for the failures that a person has to fix. */
export function s3HintFor(e: unknown, bucket: string): string {
  const { name = '' } = sdkFields(e);
  const status = statusOf(e);
  if (name === 'NoSuchBucket') return ` (bucket ${bucket} does not exist: create it or fix the bucket setting)`;
  if (
    status === 401 ||
    status === 403 ||
    name === 'InvalidAccessKeyId' ||
    name === 'SignatureDoesNotMatch' ||
    name === 'AccessDenied'
  ) {
    return ' (check the S3 credentials and the bucket policy)';
  }
  return '';
}

/**
 * The S3 client's settings for a retry budget (BN_RETRY_BUDGET_MS). A request that hangs (a frozen
 * server) is abandoned after a tenth of the budget (at most 60 s, at least 1 s: `requestTimeoutFor`),
 * a connection after a twentieth (at most 5 s, at least 500 ms), and the SDK makes one attempt:
 * the pipeline's own retry (`withRetry` under the handler's deadline) owns the budget, and an SDK
 * retrying inside it would multiply every frozen request by its attempts (three socket timeouts
 * per call, which is how a 30 s budget once took 80 s).
 */
export function s3ClientSettingsFor(budgetMs: number): {
  socketTimeoutMs: number;
  connectionTimeoutMs: number;
  maxAttempts: number;
} {
  const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, Math.round(v)));
  return {
    socketTimeoutMs: requestTimeoutFor(budgetMs),
    connectionTimeoutMs: clamp(budgetMs / 20, 500, 5_000),
    maxAttempts: 1,
  };
}
