import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startEarly } from './early.js';

const REFERENCE = resolve(import.meta.dirname, '..', '..', '..', 'shared', 'data', 'reference');

describe("startEarly: run's prefetch worker before the CLI's modules", () => {
  it.skipIf(!existsSync(REFERENCE))(
    'starts for a run that will parse, on the input folder as an absolute path',
    async () => {
      const e = startEarly(['run', '--input', REFERENCE, '--out', '/tmp/x', '--partition', '2024-01', '--json']);
      expect(e?.input).toBe(REFERENCE);
      const p = await e?.prefetch;
      try {
        // A started worker: it reads the three workbooks (the reference's are well under the limit).
        expect(p).toBeDefined();
        expect(await p?.claim('erp.xlsx', 'not the sha256', '{}')).toBeNull();
      } finally {
        await p?.close();
      }
    },
  );

  it('does not start for another command, a run bin.ts will refuse, or --help', () => {
    expect(startEarly(['demo', '--input', REFERENCE, '--out', '/tmp/x'])).toBeUndefined();
    expect(startEarly([])).toBeUndefined();
    expect(startEarly(['run', '--input', REFERENCE])).toBeUndefined();
    expect(startEarly(['run', '--out', '/tmp/x'])).toBeUndefined();
    expect(startEarly(['run', '--input', REFERENCE, '--out', '/tmp/x', '--frobnicate'])).toBeUndefined();
    expect(startEarly(['run', '--input', REFERENCE, '--out', '/tmp/x', 'extra'])).toBeUndefined();
    expect(startEarly(['run', '--input', REFERENCE, '--out', '/tmp/x', '--help'])).toBeUndefined();
  });
});
