import { describe, expect, it } from 'vitest';
import { capMetadata } from './cap.js';

describe('capMetadata', () => {
  it('cuts long strings and lists, saying how much was left out, and keeps small values as they are', () => {
    const small = { rowCount: 3, ids: ['a', 'b'], nested: { ok: true }, none: null };
    expect(capMetadata(small)).toEqual(small);
    expect(capMetadata({ header: 'x'.repeat(10_000_000) })).toEqual({
      header: `${'x'.repeat(500)}... (9999500 more characters)`,
    });
    const ids = Array.from({ length: 250 }, (_, i) => i);
    expect(capMetadata(ids)).toEqual([...ids.slice(0, 100), '... and 150 more']);
  });

  it('bounds keys and depth, so that no metadata can make an event too large to send', () => {
    const many = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`k${i}`, i]));
    const capped = capMetadata(many) as Record<string, unknown>;
    expect(Object.keys(capped)).toHaveLength(51);
    expect(capped['...']).toBe('10 more keys');
    const deep = { a: { b: { c: { d: { e: { f: 'deep' } } } } } };
    expect(capMetadata(deep)).toEqual({ a: { b: { c: { d: { e: '{"f":"deep"}' } } } } });
    expect(
      JSON.stringify(capMetadata({ columns: Array.from({ length: 5_000 }, () => 'y'.repeat(5_000)) })).length,
    ).toBeLessThan(60_000);
  });
});
