import { Kafka, logLevel } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { KafkaBus, type KafkaBusOptions } from '../../shared/src/adapters/kafka-bus.js';
import { makeEvent, type EventOf } from '../../shared/src/events/index.js';
import { uniqueTag, waitUntil } from '../../shared/src/testing/contracts/helpers.js';

const brokers = (process.env.KAFKA_BROKERS ?? '').split(',').filter(Boolean);
/** Safety net on each wait (a cold broker settles a group in seconds here); not a speed target. */
const WAIT = 90_000;

/** Per-month lanes (shared/src/adapters/kafka/lanes.ts) on a real broker, every month on one partition. */
describe('KafkaBus month lanes', () => {
  const buses: KafkaBus[] = [];
  afterEach(async () => {
    for (const b of buses.splice(0)) await b.close();
  }, 3 * WAIT);

  const newBus = (o: Partial<KafkaBusOptions> = {}, prefix = uniqueTag('bn')) => {
    const bus = new KafkaBus({ brokers, topicPrefix: prefix, numPartitions: 1, retryDelayMs: 10, ...o });
    buses.push(bus);
    return bus;
  };
  const runId = uniqueTag('run');
  const trigger = (partition: string): EventOf<'trigger'> =>
    makeEvent('trigger', { runId, partition, materializations: {}, checks: [], payload: { source: 'cli' } });

  const gate = () => {
    let open!: () => void;
    const p = new Promise<void>((r) => {
      open = r;
    });
    return { p, open };
  };

  it('a slow month does not hold another month of its partition; its own next event waits; the commit stays below it', async () => {
    const prefix = uniqueTag('bn');
    const bus = newBus({}, prefix);
    const slow = trigger('2032-01');
    const other = trigger('2032-02');
    const after = trigger('2032-01');
    const calls: string[] = [];
    const held = gate();
    await bus.subscribe({
      group: 'clean',
      types: ['trigger'],
      handler: async (ev) => {
        calls.push(ev.id);
        if (ev.id === slow.id) await held.p;
      },
    });
    await bus.publish(slow);
    await waitUntil(() => calls.includes(slow.id), WAIT, 'the slow month to start');
    await bus.publish(other);
    await bus.publish(after);
    await waitUntil(
      () => calls.includes(other.id),
      WAIT,
      'the other month, on the same partition, while the slow one runs',
    );
    expect(calls).not.toContain(after.id);
    // The other month is handled, but the group's offset stays at the slow month's (offset 0).
    const admin = new Kafka({ clientId: 'lanes-test', brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const [t] = await admin.fetchOffsets({ groupId: 'clean', topics: [bus.topicOf('trigger')] });
      expect(Number(t!.partitions[0]!.offset)).toBeLessThanOrEqual(0);
      // What the lanes report (a service's /status, the stuck-lane warning): the slow month holds a
      // lane with its next event queued behind it, and offset 0 holds the commit point.
      await waitUntil(() => bus.lanes()[0]?.partitions[0]?.inFlightCount === 2, WAIT, 'the lanes report');
      expect(bus.lanes()).toEqual([
        {
          group: 'clean',
          months: ['2032-01'],
          waitingForLane: 0,
          partitions: [
            expect.objectContaining({
              topic: bus.topicOf('trigger'),
              partition: 0,
              inFlight: ['0', '2'],
              inFlightCount: 2,
              commitPoint: '0',
            }),
          ],
        },
      ]);
      expect(bus.lanes()[0]!.partitions[0]!.oldestInFlightMs).toBeGreaterThan(0);
      held.open();
      await waitUntil(() => calls.includes(after.id), WAIT, "the slow month's next event");
      expect(calls).toEqual([slow.id, other.id, after.id]);
      await waitUntil(
        async () => {
          const [u] = await admin.fetchOffsets({ groupId: 'clean', topics: [bus.topicOf('trigger')] });
          return Number(u!.partitions[0]!.offset) === 3;
        },
        WAIT,
        'the commit past all three',
      );
      await waitUntil(() => bus.lanes()[0]?.partitions[0]?.committed === '3', WAIT, 'the lanes report the commit');
      expect(bus.lanes()[0]).toMatchObject({
        months: [],
        partitions: [{ inFlight: [], inFlightCount: 0, commitPoint: '3' }],
      });
    } finally {
      held.open();
      await admin.disconnect();
    }
  });
});
