/** Bounds on what an event's metadata may carry: events are messages, not files. */
export const METADATA_LIMITS = { maxString: 500, maxItems: 100, maxKeys: 50, maxDepth: 5 } as const;

/**
 * A copy of `value` small enough to travel in an event: long strings cut (with how much was
 * left out), long lists cut (the count of what was left out added), deep nesting flattened to text.
 * An oversized header cell or a list of 100,000 ids cannot make a stage's event too large to send.
 */
export function capMetadata(value: unknown, depth = 0): unknown {
  const L = METADATA_LIMITS;
  if (typeof value === 'string')
    return value.length > L.maxString
      ? `${value.slice(0, L.maxString)}... (${value.length - L.maxString} more characters)`
      : value;
  if (value === null || typeof value !== 'object') return value;
  if (depth >= L.maxDepth) return capMetadata(JSON.stringify(value), depth);
  if (Array.isArray(value)) {
    const head = value.slice(0, L.maxItems).map((v) => capMetadata(v, depth + 1));
    return value.length > L.maxItems ? [...head, `... and ${value.length - L.maxItems} more`] : head;
  }
  const entries = Object.entries(value);
  const out: Record<string, unknown> = {};
  for (const [k, v] of entries.slice(0, L.maxKeys)) out[capMetadata(k, depth) as string] = capMetadata(v, depth + 1);
  if (entries.length > L.maxKeys) out['...'] = `${entries.length - L.maxKeys} more keys`;
  return out;
}
