import { it } from 'vitest';
import { randomBytes } from 'node:crypto';

/**
 * Polls `done` (which may be async) until it returns true, or fails after `timeoutMs` with `what`
 * in the message. The contract suites wait this way rather than with an adapter's own "idle" hook,
 * so that they run unchanged against a real broker. `timeoutMs` is a safety net for a test that
 * would otherwise hang, not a statement about speed: make it generous.
 */
export async function waitUntil(
  done: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
  everyMs = 10,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A short random tag for topic, group, run and key names, so that tests never see each other's data. */
export function uniqueTag(prefix = 'ct'): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

export interface ContractOptions {
  /**
   * Safety net on each wait for a delivery or an I/O (default 30 s). Not a speed requirement: a
   * cold broker on a loaded machine rebalances slowly, so give real adapters a generous one.
   */
  timeoutMs?: number;
  /**
   * Titles of contract tests this adapter is known to fail: they run as `it.fails`, so the suite
   * stays green and turns red the day the bug is fixed. Give each one a `BUG:` comment at the call site.
   */
  knownFailures?: readonly string[];
}

/**
 * The `it` of a contract suite: a test named in `knownFailures` runs as `it.fails`. Call `done()`
 * after declaring the tests: a known failure that names no test is refused (a typo would
 * otherwise hide nothing and say nothing).
 */
export function contractIt(options: ContractOptions, timeoutMs: number) {
  const titles = new Set<string>();
  const test = (title: string, fn: () => Promise<void>) => {
    titles.add(title);
    (options.knownFailures?.includes(title) ? it.fails : it)(title, fn, timeoutMs);
  };
  const done = () => {
    const unknown = (options.knownFailures ?? []).filter((t) => !titles.has(t));
    if (unknown.length)
      throw new Error(`knownFailures name no contract test: ${unknown.map((t) => JSON.stringify(t)).join(', ')}`);
  };
  return { test, done };
}
