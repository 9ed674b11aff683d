import type { Logger } from '@bottleneck/shared/stage/context';
import { redactSecrets } from '@bottleneck/shared/text/redact';

const LEVELS = { debug: 20, info: 30, warn: 40, error: 50, silent: 100 } as const;
export type Level = keyof typeof LEVELS;

/**
 * A small JSON-lines logger on stderr, pino's line format, for the CLI: pino itself is for the
 * long-running services; the one-shot command keeps its start-up light.
 */
export function stderrLogger(level: Level = 'warn'): Logger {
  const min = LEVELS[level];
  const line = (lvl: Exclude<Level, 'silent'>) => (obj: object, msg?: string) => {
    if (LEVELS[lvl] < min) return;
    process.stderr.write(redactSecrets(JSON.stringify({ level: LEVELS[lvl], time: Date.now(), ...obj, msg })) + '\n');
  };
  return { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') };
}
