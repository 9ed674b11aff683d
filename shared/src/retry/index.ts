import { createError, errorField, isBottleneckError, isRetriable, isTransientIoError } from '../errors/index.js';

export interface RetryOptions {
  retries?: number;
  /**
   * A time budget instead of a count: retriable errors are retried until this many milliseconds
   * have gone since the first attempt (`retries` is then ignored). For outages: a store down for a
   * minute must not fail a run.
   */
  budgetMs?: number;
  /** Test hook: a fake clock (ms). */
  now?: () => number;
  initialDelayMs?: number;
  maxDelayMs?: number;
  factor?: number;
  /** Decides what is retried; defaults to the error's `retriable` property or a transient I/O code. */
  shouldRetry?: (e: unknown) => boolean;
  onRetry?: (e: unknown, attempt: number, delayMs: number) => void;
  /**
   * A counted retry (no `budgetMs`) gives up when a server's Retry-After asks for longer than this
   * (default 60,000 ms); shorter ones are waited whole, even past `maxDelayMs`.
   */
  maxRetryAfterMs?: number;
  /** Test hook: a fake sleep. */
  sleep?: (ms: number) => Promise<void>;
  /** Test hook: a fake random in [0,1). */
  random?: () => number;
}

/**
 * How long the error says to wait before the next attempt (a server's `Retry-After`, which the
 * adapters put in `details.retryAfterMs`), or undefined.
 */
export function retryAfterOf(e: unknown): number | undefined {
  // A BottleneckError's details are typed; anything else (a client's own error) is read without trusting its shape.
  const v = isBottleneckError(e)
    ? e.details?.retryAfterMs
    : (errorField(errorField(e, 'details'), 'retryAfterMs') ?? errorField(e, 'retryAfterMs'));
  return typeof v === 'number' && v >= 0 && v < Infinity ? v : undefined;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Runs `fn`, retrying with jittered exponential backoff while the error is retriable.
 * When retries run out the error is wrapped (BN_ERR_RETRIES_EXHAUSTED) with the count, keeping the cause.
 * Non-retriable errors (validation, programmer errors) are rethrown at once, unchanged. An error
 * carrying a Retry-After (`details.retryAfterMs`) waits at least that long, within the budget.
 */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const retries = opts.retries ?? 3;
  const initial = opts.initialDelayMs ?? 100;
  const max = opts.maxDelayMs ?? 5_000;
  const factor = opts.factor ?? 2;
  const shouldRetry = opts.shouldRetry ?? ((e: unknown) => isRetriable(e) || isTransientIoError(e));
  const sleep = opts.sleep ?? defaultSleep;
  const random = opts.random ?? Math.random;
  const now = opts.now ?? Date.now;
  const started = now();
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      if (!shouldRetry(e)) throw e;
      const base = Math.min(max, initial * factor ** Math.min(attempt, 30));
      // Full jitter between half and all of the backoff, so retrying clients do not move in step.
      // A server that says when to come back is obeyed: never sooner than its Retry-After (and when
      // that is past the budget, or past maxRetryAfterMs for a counted retry, the retries are over).
      const after = retryAfterOf(e) ?? 0;
      const delay = Math.max(Math.round(base / 2 + random() * (base / 2)), after);
      const spent = now() - started;
      const over =
        opts.budgetMs !== undefined
          ? spent + delay > opts.budgetMs
          : attempt >= retries || after > (opts.maxRetryAfterMs ?? 60_000);
      if (over) {
        const msg = e instanceof Error ? e.message : String(e);
        const tried =
          opts.budgetMs !== undefined
            ? `${attempt + 1} attempts over ${Math.round(spent / 1000)} s`
            : `${attempt + 1} attempts`;
        throw createError('BN_ERR_RETRIES_EXHAUSTED', `gave up after ${tried}: ${msg}`, {
          cause: e,
          details: { attempts: attempt + 1, spentMs: spent },
        });
      }
      opts.onRetry?.(e, attempt + 1, delay);
      await sleep(delay);
    }
  }
}

/**
 * How long one request to the store may take before it is abandoned, for a retry budget
 * (BN_RETRY_BUDGET_MS): a tenth of it, at least 1 s, at most 60 s. The S3 client's socket timeout
 * is this, and a handler's steps are cut at the end of the budget or after this long, whichever
 * is later: a handler that meets a frozen store gives up within its budget plus one request.
 */
export function requestTimeoutFor(budgetMs: number): number {
  return Math.min(60_000, Math.max(1_000, Math.round(budgetMs / 10)));
}
