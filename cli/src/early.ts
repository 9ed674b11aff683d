import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Prefetch } from '@bottleneck/shared/stage/prefetch';
import { SOURCES } from '@bottleneck/shared/sources';

/**
 * `bottleneck run`'s prefetch worker (stage/prefetch.ts), spawned while this module is evaluated:
 * bin.ts imports it first, so the worker boots (about 30 ms of its own start-up) while the CLI's
 * other modules are evaluated and its arguments parsed, instead of after them (issue 18). Only
 * for a `run` whose arguments parse as bin.ts's will (anything else: none, and bin.ts starts its
 * own or none). `input` is the folder it reads: `run` uses the worker only for that folder, and
 * closes it otherwise.
 */
export const early: { input: string; prefetch: Promise<Prefetch> } | undefined = startEarly(process.argv.slice(2));

/** `bottleneck run`'s options (bin.ts parses them with these, and `--help`). */
export const RUN_OPTIONS = {
  input: { type: 'string' },
  out: { type: 'string' },
  partition: { type: 'string' },
  expect: { type: 'string' },
  json: { type: 'boolean' },
  verbose: { type: 'boolean' },
} as const;

/** The prefetch for `argv` (the command and its arguments), if it is a `run` that will parse. */
export function startEarly(argv: string[]): { input: string; prefetch: Promise<Prefetch> } | undefined {
  if (argv[0] !== 'run') return undefined;
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv.slice(1),
      options: { ...RUN_OPTIONS, help: { type: 'boolean' } },
      strict: true,
    }));
  } catch {
    return undefined;
  }
  if (values.help || typeof values.input !== 'string' || typeof values.out !== 'string') return undefined;
  const input = resolve(values.input);
  const prefetch = prefetchInput(input);
  // A failure to start costs only the speed-up; `run` then starts its own (prefetchInput again).
  prefetch.catch(() => undefined);
  return { input, prefetch };
}

/** Starts the prefetch worker on `input`'s three workbooks (the worker is spawned before this returns). */
export function prefetchInput(input: string): Promise<Prefetch> {
  // The small workbooks first: their rows are ready while the large one is still being read.
  return Prefetch.start(
    (['liaison', 'erp', 'web'] as const).map((n) => ({
      name: n,
      file: SOURCES[n].file,
      path: join(input, SOURCES[n].file),
    })),
  );
}
