import { describe, expect, it } from 'vitest';
import { MemoryBus } from '../adapters/memory-bus.js';
import { canonicalJson, EventKeys, eventKeysOf, keyId } from './sign.js';
import { decodeSignedEvent, makeEvent, type PipelineEvent } from './index.js';

const K1 = 'first-key-0123456789abcdef';
const K2 = 'second-key-0123456789abcdef';
const event = () =>
  makeEvent('trigger', {
    runId: '2026-03-20260301T000000-abc123',
    partition: '2026-03',
    materializations: {},
    checks: [],
    payload: { source: 'console' },
  });

describe('canonicalJson', () => {
  it('sorts keys at every level, drops undefined, keeps array order', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: undefined } })).toBe(
      '{"a":{"d":[3,{"y":2,"z":1}]},"b":1}',
    );
  });
});

describe('EventKeys', () => {
  it('signs with the first key; every key of the list verifies (rotation)', () => {
    const e = event();
    const signed = new EventKeys([K1, K2]).sign(e);
    expect(signed.sig).toMatch(new RegExp(`^hmac-sha256:${keyId(K1)}:[0-9a-f]{64}$`));
    // A consumer that already moved to K2 first still accepts K1's signature.
    expect(new EventKeys([K2, K1]).verify(JSON.parse(JSON.stringify(signed)))).toEqual(JSON.parse(JSON.stringify(e)));
    // One that dropped K1 refuses it.
    expect(() => new EventKeys([K2]).verify(signed)).toThrow(
      expect.objectContaining({ code: 'BN_ERR_EVENT_SIGNATURE' }) as Error,
    );
  });

  it('refuses an unsigned event, an altered one and a malformed signature', () => {
    const keys = new EventKeys([K1]);
    expect(() => keys.verify(event())).toThrow(
      'the event carries no signature (sig): refused; every producer must sign with a key of BN_EVENT_KEYS',
    );
    const signed = keys.sign(event());
    expect(() => keys.verify({ ...signed, partition: '2026-04' })).toThrow(
      expect.objectContaining({ code: 'BN_ERR_EVENT_SIGNATURE' }) as Error,
    );
    expect(() => keys.verify({ ...signed, sig: 'hmac-sha256:zz' })).toThrow(
      'the event signature (sig) is malformed: refused',
    );
  });

  it('verifies whatever the key order of the JSON (canonical form), and re-signing replaces an old sig', () => {
    const keys = new EventKeys([K1]);
    const signed = keys.sign(event());
    const reordered = Object.fromEntries(Object.entries(signed).reverse());
    expect(() => keys.verify(reordered)).not.toThrow();
    const again = new EventKeys([K2]).sign(signed);
    expect(again.sig.split(':')[1]).toBe(keyId(K2));
    expect(() => new EventKeys([K2]).verify(again)).not.toThrow();
  });

  it('refuses keys shorter than 16 characters, in words; no keys is no signing', () => {
    expect(() => new EventKeys(['short'])).toThrow(
      'BN_EVENT_KEYS: every key must be at least 16 characters (one is 5); make one with: openssl rand -hex 32',
    );
    expect(eventKeysOf(undefined)).toBeNull();
    expect(eventKeysOf([' ', ''])).toBeNull();
  });
});

describe('decodeSignedEvent', () => {
  it('with keys: the event without its sig; without keys: any sig dropped unchecked', () => {
    const keys = new EventKeys([K1]);
    const text = JSON.stringify(keys.sign(event()));
    expect(decodeSignedEvent(text, keys)).not.toHaveProperty('sig');
    expect(decodeSignedEvent(JSON.stringify({ ...event(), sig: 'anything' }), null)).not.toHaveProperty('sig');
    expect(() => decodeSignedEvent(JSON.stringify(event()), keys)).toThrow(
      expect.objectContaining({ code: 'BN_ERR_EVENT_UNSIGNED' }) as Error,
    );
  });
});

describe('MemoryBus signs with an ephemeral key', () => {
  it('delivers its own events; a forged or unsigned message on an event topic is dead-lettered at once, never handled', async () => {
    const bus = new MemoryBus();
    const seen: PipelineEvent[] = [];
    await bus.subscribe({
      group: 'g',
      types: ['trigger'],
      handler: async (e) => {
        seen.push(e);
      },
    });
    await bus.publish(event());
    const forged = new EventKeys(['someone-elses-key-0123456789']).sign(event());
    await bus.publishRaw(bus.topicOf('trigger'), JSON.stringify(forged));
    await bus.publishRaw(bus.topicOf('trigger'), JSON.stringify(event()));
    await bus.idle();
    expect(seen).toHaveLength(1);
    expect(seen[0]).not.toHaveProperty('sig');
    expect(bus.deadLetters.map((d) => d.errorClass)).toHaveLength(2);
    expect(bus.deadLetters[0]?.message).toMatch(/^the event signature \(key id [0-9a-f]{8}\) was not made by any key/);
    expect(bus.deadLetters[1]?.message).toMatch(/^the event carries no signature/);
    await bus.close();
  });
});
