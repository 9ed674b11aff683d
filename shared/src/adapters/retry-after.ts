/**
 * Milliseconds a `Retry-After` header value asks to wait: delay-seconds (`120`) or an HTTP date
 * (`Wed, 21 Oct 2026 07:28:00 GMT`, counted from `now`). Undefined when absent or unreadable; 0 for
 * a date already past.
 */
export function parseRetryAfter(value: unknown, now: number = Date.now()): number | undefined {
  const v = Array.isArray(value) ? (value as unknown[])[0] : value;
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? Math.round(v * 1000) : undefined;
  if (typeof v !== 'string') return undefined;
  const s = v.trim();
  if (/^\d+$/.test(s)) return Number(s) * 1000;
  const at = Date.parse(s);
  if (!/[a-z]/i.test(s) || Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** A header of a plain object of headers, by name in any case. */
export function headerOf(headers: unknown, name: string): unknown {
  if (!headers || typeof headers !== 'object') return undefined;
  const want = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === want) return v;
  return undefined;
}
