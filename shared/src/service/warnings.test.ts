import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { routeProcessWarnings, warningKey } from './warnings.js';

function warning(name: string, message: string, code?: string): Error & { code?: string } {
  const w = new Error(message) as Error & { code?: string };
  w.name = name;
  if (code) w.code = code;
  return w;
}

describe('routeProcessWarnings', () => {
  it('logs each warning once as one JSON-ready record, in place of the default printer, and undoes it', () => {
    const proc = new EventEmitter() as unknown as NodeJS.Process;
    const printed: string[] = [];
    const defaultPrinter = (w: Error) => printed.push(String(w.message));
    proc.on('warning', defaultPrinter);
    const logged: { obj: object; msg?: string }[] = [];
    const undo = routeProcessWarnings({ warn: (obj, msg) => logged.push({ obj, msg: msg! }) }, proc);

    const aws = warning(
      'Warning',
      'NodeVersionSupportWarning: The AWS SDK for JavaScript (v3)\nversions published after the first week of January 2027\nwill require node >=22.',
    );
    const fst = warning('FastifyDeprecation', 'disableRequestLogging option is deprecated.', 'FSTDEP023');
    for (const w of [aws, fst, aws, fst, warning('FastifyDeprecation', 'said differently', 'FSTDEP023')])
      proc.emit('warning', w);

    expect(printed).toEqual([]);
    expect(logged).toEqual([
      {
        msg: 'process warning',
        obj: {
          warning: {
            name: 'Warning',
            message:
              'NodeVersionSupportWarning: The AWS SDK for JavaScript (v3) versions published after the first week of January 2027 will require node >=22.',
          },
        },
      },
      {
        msg: 'process warning',
        obj: {
          warning: {
            name: 'FastifyDeprecation',
            code: 'FSTDEP023',
            message: 'disableRequestLogging option is deprecated.',
          },
        },
      },
    ]);

    undo();
    proc.emit('warning', warning('Warning', 'after undo'));
    expect(printed).toEqual(['after undo']);
    expect(logged).toHaveLength(2);
  });

  it('keys a warning by its code, else by its name and first line', () => {
    expect(warningKey(warning('DeprecationWarning', 'x', 'DEP0040'))).toBe('DEP0040');
    expect(warningKey(warning('Warning', 'first line\nsecond'))).toBe('Warning: first line');
  });
});
