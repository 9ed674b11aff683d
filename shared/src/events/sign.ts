import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createError } from '../errors/index.js';

/**
 * Event signatures: every event on the bus carries `sig`, an HMAC-SHA256 over the canonical JSON of
 * the envelope (every field but `sig`, keys sorted at every level, no whitespace). The keys come
 * from BN_EVENT_KEYS (or BN_EVENT_KEYS_FILE), a comma list: the first signs, every one verifies,
 * so a key is rotated without downtime (add the new key second everywhere, then move it first,
 * then drop the old one). `sig` is `hmac-sha256:<key id>:<hex>`; the key id is the first 8 hex of
 * the key's sha256, so a log can say which key signed without showing it.
 *
 * The signature lives on the wire only: the bus adds it when producing and removes it after
 * verifying, so handlers, run records and re-executions never see (or re-send) an old one.
 *
 * @example
 * const keys = new EventKeys(['k2-new', 'k1-old']);
 * const wire = keys.sign(event);        // { ...event, sig: 'hmac-sha256:1a2b3c4d:...' }
 * const event2 = keys.verify(wire);     // the event without sig, or throws BN_ERR_EVENT_UNSIGNED / _SIGNATURE
 */
export class EventKeys {
  private readonly keys: { id: string; secret: Buffer }[];

  constructor(secrets: readonly string[]) {
    const list = secrets.map((s) => s.trim()).filter(Boolean);
    if (!list.length) throw new RangeError('EventKeys needs at least one key');
    for (const s of list)
      if (s.length < 16)
        throw createError(
          'BN_ERR_CONFIG_INVALID',
          `BN_EVENT_KEYS: every key must be at least 16 characters (one is ${s.length}); make one with: openssl rand -hex 32`,
        );
    this.keys = list.map((s) => ({ id: keyId(s), secret: Buffer.from(s, 'utf8') }));
  }

  /** A key that lives as long as the process: the embedded run signs with one (nothing outside it can write to its bus). */
  static ephemeral(): EventKeys {
    return new EventKeys([randomBytes(32).toString('hex')]);
  }

  /** The id of the key that signs. */
  get signingKeyId(): string {
    return this.keys[0]?.id ?? '';
  }

  /** The event with its signature (any `sig` it had is replaced). */
  sign<T extends object>(event: T): T & { sig: string } {
    const { sig: _old, ...rest } = event as T & { sig?: unknown };
    const key = this.keys[0];
    if (!key) throw new RangeError('no signing key');
    return { ...(rest as T), sig: `hmac-sha256:${key.id}:${mac(key.secret, canonicalJson(rest))}` };
  }

  /**
   * The event without its signature, if a key of ours made it; else throws BN_ERR_EVENT_UNSIGNED (no
   * `sig`) or BN_ERR_EVENT_SIGNATURE (a `sig` none of our keys made: forged, altered, or an old key).
   */
  verify(raw: unknown): Record<string, unknown> {
    if (!raw || typeof raw !== 'object' || Array.isArray(raw))
      throw createError('BN_ERR_EVENT_UNSIGNED', 'the message is not a JSON object, so it carries no signature');
    const { sig, ...rest } = raw as Record<string, unknown>;
    if (sig === undefined)
      throw createError(
        'BN_ERR_EVENT_UNSIGNED',
        'the event carries no signature (sig): refused; every producer must sign with a key of BN_EVENT_KEYS',
      );
    const m = typeof sig === 'string' ? /^hmac-sha256:([0-9a-f]{8}):([0-9a-f]{64})$/.exec(sig) : null;
    if (!m) throw createError('BN_ERR_EVENT_SIGNATURE', 'the event signature (sig) is malformed: refused');
    const given = Buffer.from(m[2] ?? '', 'hex');
    const text = canonicalJson(rest);
    for (const k of this.keys) {
      const expected = Buffer.from(mac(k.secret, text), 'hex');
      if (expected.length === given.length && timingSafeEqual(expected, given)) return rest;
    }
    throw createError(
      'BN_ERR_EVENT_SIGNATURE',
      `the event signature (key id ${m[1] ?? '?'}) was not made by any key of BN_EVENT_KEYS (${this.keys.map((k) => k.id).join(', ')}): refused (forged, altered, or signed with a retired key)`,
    );
  }
}

/** The id of a key: the first 8 hex of its sha256 (safe to log). */
export function keyId(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex').slice(0, 8);
}

function mac(secret: Buffer, text: string): string {
  return createHmac('sha256', secret).update(text, 'utf8').digest('hex');
}

/**
 * JSON with object keys sorted at every level and no whitespace, of the value as JSON sees it
 * (undefined fields dropped, dates as strings): what producer and consumer both sign.
 */
export function canonicalJson(value: unknown): string {
  const plain = JSON.parse(JSON.stringify(value ?? null)) as unknown;
  const walk = (v: unknown): string => {
    if (Array.isArray(v)) return `[${v.map(walk).join(',')}]`;
    if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      return `{${Object.keys(o)
        .sort()
        .map((k) => `${JSON.stringify(k)}:${walk(o[k])}`)
        .join(',')}}`;
    }
    return JSON.stringify(v);
  };
  return walk(plain);
}

/** The keys of BN_EVENT_KEYS, or null when none is set (local use: events are neither signed nor checked). */
export function eventKeysOf(list: readonly string[] | undefined): EventKeys | null {
  const keys = (list ?? []).map((s) => s.trim()).filter(Boolean);
  return keys.length ? new EventKeys(keys) : null;
}

/** Error codes of an event refused for what it is (never retried, never a run): dead-lettered at once. */
export const REFUSED_EVENT_CODES = ['BN_ERR_EVENT_INVALID', 'BN_ERR_EVENT_UNSIGNED', 'BN_ERR_EVENT_SIGNATURE'] as const;

/** Whether an error refuses the event itself (poison: dead-letter at once, no retry, no run). */
export function isRefusal(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (REFUSED_EVENT_CODES as readonly string[]).includes(code);
}
