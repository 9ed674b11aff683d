import { describe, expect, it } from 'vitest';
import { headerOf, parseRetryAfter } from './retry-after.js';

describe('Retry-After', () => {
  const now = Date.parse('2026-11-15T10:00:00Z');
  it('reads delay-seconds and HTTP dates; a past date is 0; garbage is nothing', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter(['5'], now)).toBe(5_000);
    expect(parseRetryAfter(2, now)).toBe(2_000);
    expect(parseRetryAfter('Sun, 15 Nov 2026 10:01:00 GMT', now)).toBe(60_000);
    expect(parseRetryAfter('Sun, 15 Nov 2026 09:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('-1', now)).toBeUndefined();
    expect(parseRetryAfter('1.5', now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter(-3, now)).toBeUndefined();
  });
  it('finds a header in any case', () => {
    expect(headerOf({ 'Retry-After': '1' }, 'retry-after')).toBe('1');
    expect(headerOf(undefined, 'retry-after')).toBeUndefined();
  });
});
