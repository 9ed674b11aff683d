import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z as zod } from 'zod';
// The module the build made (scripts/bundle-zod.mjs), as the compiled schemas import it.
import { z } from '../../dist/events/zod.js';

const bundled = !readFileSync(new URL('../../dist/events/zod.js', import.meta.url), 'utf8').startsWith('export {');

describe.skipIf(!bundled)("the build's zod (scripts/bundle-zod.mjs)", () => {
  it("says zod's messages in English, as zod does", () => {
    const r = z.object({ name: z.string().min(3) }).safeParse({ name: 'ab' });
    const own = zod.object({ name: zod.string().min(3) }).safeParse({ name: 'ab' });
    expect(r.error?.issues).toEqual(own.error?.issues);
    expect(r.error?.issues[0]?.message).toBe('Too small: expected string to have >=3 characters');
    expect(z.locales.en().localeError).toBeTypeOf('function');
  });

  it('has every locale of zod by name; one other than English throws, saying why', () => {
    expect(Object.keys(z.locales).sort()).toEqual(Object.keys(zod.locales).sort());
    expect(() => z.locales.fr()).toThrow(
      'zod locale "fr" is not in this build (scripts/bundle-zod.mjs bundles English only)',
    );
  });
});
