import { errorMessage } from '../errors/index.js';
import { withRetry, type RetryOptions } from '../retry/index.js';
import type { Logger } from '../stage/context.js';

/** How patient a service's start is, and where it says what it waits for. */
export interface StartPatience {
  /** BN_RETRY_BUDGET_MS: how long a step may keep failing with a transient error before the service gives up. */
  budgetMs: number;
  log: Pick<Logger, 'info' | 'warn'>;
  /** Longest pause between two tries, ms (default 5,000). */
  maxDelayMs?: number;
  /** Test hooks: a fake clock, sleep and random (see withRetry). */
  retry?: Pick<RetryOptions, 'now' | 'sleep' | 'random'>;
}

/**
 * Runs one step of a service's start that needs the cluster (creating the bus topics, joining a
 * consumer group, a watcher's own subscription) until it succeeds, while it fails with a retriable
 * error and within the retry budget, as a run waits out an outage. A cold cluster answers
 * NOT_LEADER or LEADER_NOT_AVAILABLE for a while after its brokers start (its partitions have no
 * leader yet): the service waits, logging each time what it is waiting for and why, instead of
 * exiting. A step that fails for good (a refused credential, a replication factor above the broker
 * count) throws at once; past the budget, BN_ERR_RETRIES_EXHAUSTED (the service exits 1 with it).
 * The step must be safe to run again after it threw.
 *
 * @example
 * const [sub] = await startStep('the consumer group bottleneck-clean', () => subscribeStages(...), { budgetMs, log });
 */
export async function startStep<T>(what: string, step: () => Promise<T>, p: StartPatience): Promise<T> {
  const t0 = (p.retry?.now ?? Date.now)();
  let waited = 0;
  const value = await withRetry(() => step(), {
    budgetMs: p.budgetMs,
    initialDelayMs: 250,
    maxDelayMs: p.maxDelayMs ?? 5_000,
    ...p.retry,
    onRetry: (e, attempt, delayMs) => {
      waited = attempt;
      p.log.warn(
        { waitingFor: what, attempt, retryInMs: delayMs, budgetMs: p.budgetMs, err: errorMessage(e) },
        `waiting for ${what}: ${errorMessage(e)} (trying again in ${(delayMs / 1000).toFixed(1)} s, for up to ${Math.round(p.budgetMs / 1000)} s in all: BN_RETRY_BUDGET_MS)`,
      );
    },
  });
  if (waited > 0)
    p.log.info(
      { waitingFor: what, attempts: waited + 1, waitedMs: (p.retry?.now ?? Date.now)() - t0 },
      `${what}: ready after ${waited + 1} attempts`,
    );
  return value;
}
