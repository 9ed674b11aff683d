import { describe, expect, it } from 'vitest';
import { makeEvent, type PipelineEvent } from '../events/index.js';
import { createError } from '../errors/index.js';
import type { DeadLetter } from '../ports/bus.js';
import { busContract } from '../testing/contracts/bus.js';
import { uniqueTag } from '../testing/contracts/helpers.js';
import { MemoryBus } from './memory-bus.js';

busContract(
  'MemoryBus',
  async () => {
    const bus = new MemoryBus({ topicPrefix: uniqueTag('bn') });
    return { bus, cleanup: () => bus.close() };
  },
  { timeoutMs: 5_000 },
);

const trigger = (runId = 'r1'): PipelineEvent =>
  makeEvent('trigger', { runId, partition: '2026-01', materializations: {}, checks: [], payload: { source: 'cli' } });

describe('MemoryBus (adapter-specific)', () => {
  it('dead-letters an event after maxAttempts deliveries and goes on with the next', async () => {
    const dead: DeadLetter[] = [];
    const bus = new MemoryBus({ maxAttempts: 3, retryDelayMs: 1, onDeadLetter: (d) => dead.push(d) });
    const [poison, next] = [trigger(), trigger()];
    const calls: string[] = [];
    await bus.subscribe({
      group: 'clean',
      types: ['trigger'],
      handler: async (e) => {
        calls.push(e.id);
        if (e.id === poison.id) throw new Error('cannot handle this one');
      },
    });
    await bus.publish(poison);
    await bus.publish(next);
    await bus.idle();
    expect(calls).toEqual([poison.id, poison.id, poison.id, next.id]);
    expect(dead).toEqual([
      {
        topic: 'bottleneck.trigger',
        group: 'clean',
        offset: 0,
        errorClass: 'Error',
        message: 'cannot handle this one',
        value: expect.stringMatching(/"sig":"hmac-sha256:[0-9a-f]{8}:[0-9a-f]{64}"/) as string,
      },
    ]);
    // The message as it was on the bus: the event and its signature.
    const { sig: _sig, ...unsigned } = JSON.parse(dead[0]?.value ?? '{}') as Record<string, unknown>;
    expect(unsigned).toEqual(JSON.parse(JSON.stringify(poison)));
    expect(bus.deadLetters).toEqual(dead);
  });

  it('dead-letters at once when the handler finds the event invalid (retrying cannot help)', async () => {
    const bus = new MemoryBus({ maxAttempts: 5, retryDelayMs: 1 });
    let calls = 0;
    await bus.subscribe({
      group: 'g',
      types: ['trigger'],
      handler: async () => {
        calls++;
        throw createError('BN_ERR_EVENT_INVALID', 'payload.files: missing');
      },
    });
    await bus.publish(trigger());
    await bus.idle();
    expect(calls).toBe(1);
    expect(bus.deadLetters.map((d) => [d.errorClass, d.message])).toEqual([
      ['BottleneckError', 'payload.files: missing'],
    ]);
  });

  it('keeps the log serialized under topic names from the prefix (what a Kafka consumer would see)', async () => {
    const bus = new MemoryBus({ topicPrefix: 'acme' });
    const e = trigger();
    await bus.publish(e);
    expect(bus.topicOf('merged')).toBe('acme.merged');
    expect(bus.messages()).toEqual([{ topic: 'acme.trigger', event: e }]);
  });
});
