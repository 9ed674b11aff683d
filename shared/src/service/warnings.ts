import type { Logger } from '../stage/context.js';

/** What identifies one warning: its code (FSTDEP023, DEP0040), or its name and first line when it has none. */
export function warningKey(w: Error & { code?: unknown }): string {
  if (typeof w.code === 'string' && w.code) return w.code;
  return `${w.name}: ${(w.message.split('\n', 1)[0] ?? '').trim()}`;
}

/**
 * Routes the process's warnings (`process.emitWarning`: Node's deprecations, fastify's FSTDEP*,
 * the AWS SDK's NodeVersionSupportWarning) into the logger as one JSON line each, once per
 * warning (see warningKey), instead of Node's default plain-text lines on stderr, which would
 * break a log made of JSON lines. Node's own printer is a 'warning' listener: it is removed while
 * the route is installed. Returns a function that undoes it.
 *
 * @example
 * const unroute = routeProcessWarnings(log);
 * // ... on stop:
 * unroute();
 */
export function routeProcessWarnings(log: Pick<Logger, 'warn'>, proc: NodeJS.Process = process): () => void {
  const seen = new Set<string>();
  const previous = proc.listeners('warning');
  const onWarning = (w: Error & { code?: unknown; detail?: unknown }): void => {
    const key = warningKey(w);
    if (seen.has(key)) return;
    seen.add(key);
    log.warn(
      {
        warning: {
          name: w.name,
          ...(typeof w.code === 'string' ? { code: w.code } : {}),
          message: w.message.replace(/\s+/g, ' ').trim(),
          ...(typeof w.detail === 'string' ? { detail: w.detail } : {}),
        },
      },
      'process warning',
    );
  };
  proc.removeAllListeners('warning');
  proc.on('warning', onWarning);
  return () => {
    proc.removeListener('warning', onWarning);
    for (const l of previous) proc.on('warning', l);
  };
}
