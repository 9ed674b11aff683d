import type { EachMessagePayload, Kafka } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { makeEvent } from '../../events/index.js';
import { silentLogger } from '../../stage/context.js';
import { KafkaSubscription, type ConsumerSettings } from './subscription.js';

/** A kafkajs client whose one consumer records what the subscription does with it, and hands out its eachMessage. */
function fakeKafka() {
  const calls: string[] = [];
  let eachMessage!: (p: EachMessagePayload) => Promise<void>;
  const consumer = {
    events: { GROUP_JOIN: 'join', REBALANCING: 'rebalancing', CRASH: 'crash' },
    on: () => () => {},
    connect: async () => {},
    subscribe: async () => {},
    run: async (o: { eachMessage: typeof eachMessage }) => {
      eachMessage = o.eachMessage;
    },
    commitOffsets: async (o: { partition: number; offset: string }[]) => {
      calls.push(`commit ${o.map((x) => `${x.partition}@${x.offset}`).join(',')}`);
    },
    pause: () => {},
    disconnect: async () => {},
  };
  const kafka = { consumer: () => consumer } as unknown as Kafka;
  return { kafka, calls, each: (p: EachMessagePayload) => eachMessage(p) };
}

const SETTINGS: ConsumerSettings = {
  sessionTimeoutMs: 30_000,
  heartbeatIntervalMs: 3_000,
  rebalanceTimeoutMs: 60_000,
  maxWaitTimeInMs: 50,
  partitionsConsumedConcurrently: 1,
  maxAttempts: 1,
  retryDelayMs: 0,
  maxRetryDelayMs: 0,
  closeTimeoutMs: 0,
  joinTimeoutMs: 0,
  monthsInFlight: 1,
  retry: { retries: 0 },
};

const gate = () => {
  let open!: () => void;
  const p = new Promise<void>((r) => {
    open = r;
  });
  return { p, open };
};
const ticks = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

describe("KafkaSubscription: a slow month never holds kafkajs's batch", () => {
  it('hands a message to its lane and returns even with every lane held; pauses the partition past maxBuffered messages, resumes at half', async () => {
    const { kafka, calls, each } = fakeKafka();
    const held = gate();
    const handled: string[] = [];
    const sub = new KafkaSubscription(
      {
        group: 'bottleneck-ingest',
        types: ['trigger'],
        handler: async (ev) => {
          if (ev.partition === '2050-01') await held.p;
          handled.push(ev.partition);
        },
      },
      {
        kafka,
        prefix: 'bn',
        settings: SETTINGS,
        log: silentLogger,
        produce: async () => {},
        publish: async () => {},
        now: () => new Date(),
      },
    );
    await sub.start();
    const payload = (offset: number, month: string): EachMessagePayload =>
      ({
        topic: 'bn.trigger',
        partition: 0,
        message: {
          offset: String(offset),
          key: Buffer.from(month),
          value: Buffer.from(
            JSON.stringify(
              makeEvent('trigger', {
                runId: `${month}-run`,
                partition: month,
                materializations: {},
                checks: [],
                payload: { source: 'cli' },
              }),
            ),
          ),
        },
        heartbeat: async () => {},
        pause: () => {
          calls.push(`pause at ${offset}`);
          return () => calls.push('resume');
        },
      }) as unknown as EachMessagePayload;
    // One lane: 2050-01 holds it. Every later month returns at once all the same (it waits in the lanes).
    const months = Array.from(
      { length: 32 },
      (_, i) => `20${50 + Math.floor(i / 12)}-${String((i % 12) + 1).padStart(2, '0')}`,
    );
    for (const [i, m] of months.entries()) {
      const done = await Promise.race([each(payload(i, m)).then(() => 'returned'), ticks(20).then(() => 'held')]);
      expect(done, `eachMessage of offset ${i}`).toBe('returned');
    }
    // 32 messages handed out and none handled: the partition was paused at the 32nd, once.
    expect(calls).toEqual(['pause at 31']);
    expect(sub.lanes()).toMatchObject({ months: ['2050-01'], waitingForLane: 31 });
    held.open();
    await ticks(400);
    expect(handled).toEqual(months);
    // Resumed once at most 16 were left; every offset committed in the end (the last commit: one past 31).
    expect(calls.filter((c) => c === 'resume')).toHaveLength(1);
    expect(calls.indexOf('resume')).toBeGreaterThan(0);
    expect(calls.at(-1)).toBe('commit 0@32');
    await sub.close();
  });
});
