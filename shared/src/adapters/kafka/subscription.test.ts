import type { EachMessagePayload, Kafka } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { makeEvent } from '../../events/index.js';
import { silentLogger } from '../../stage/context.js';
import { KafkaSubscription, type ConsumerSettings } from './subscription.js';

/** A kafkajs client whose one consumer records what the subscription does with it, and hands out its eachMessage. */
function fakeKafka(o: { commitErrors?: string[] } = {}) {
  const calls: string[] = [];
  /** The consumer's runs and stops, in order. */
  const lifecycle: string[] = [];
  const commitErrors = [...(o.commitErrors ?? [])];
  let eachMessage!: (p: EachMessagePayload) => Promise<void>;
  const consumer = {
    events: { GROUP_JOIN: 'join', REBALANCING: 'rebalancing', CRASH: 'crash' },
    on: () => () => {},
    connect: async () => {},
    subscribe: async () => {},
    run: async (o: { eachMessage: typeof eachMessage }) => {
      lifecycle.push('run');
      eachMessage = o.eachMessage;
    },
    stop: async () => {
      lifecycle.push('stop');
    },
    commitOffsets: async (o: { partition: number; offset: string }[]) => {
      const failing = commitErrors.shift();
      calls.push(`${failing ? 'failed ' : ''}commit ${o.map((x) => `${x.partition}@${x.offset}`).join(',')}`);
      // As kafkajs throws it once its own retries gave up: the broker's error as the cause.
      if (failing)
        throw Object.assign(new Error(failing), {
          name: 'KafkaJSNumberOfRetriesExceeded',
          cause: Object.assign(new Error(failing), { type: failing }),
        });
    },
    pause: () => {},
    disconnect: async () => {},
  };
  const kafka = { consumer: () => consumer } as unknown as Kafka;
  return { kafka, calls, lifecycle, each: (p: EachMessagePayload) => eachMessage(p) };
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
  commitBackoffMs: 10,
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

describe('KafkaSubscription: a commit is never dropped', () => {
  const trigger = (offset: number, month: string): EachMessagePayload =>
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
      pause: () => () => {},
    }) as unknown as EachMessagePayload;

  it('rejoins the group when the coordinator moved (kafkajs would keep asking the old one), and commits once it answers', async () => {
    // Eight commits refused by a broker that no longer coordinates the group: the rolling restart
    // (C4) where the group never caught up, its last commit given up after seven tries.
    const { kafka, calls, lifecycle, each } = fakeKafka({
      commitErrors: Array.from({ length: 8 }, () => 'NOT_COORDINATOR_FOR_GROUP'),
    });
    const sub = new KafkaSubscription(
      { group: 'bottleneck-clean', types: ['trigger'], handler: async () => {} },
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
    await each(trigger(0, '2050-01'));
    // A condition: the commit made (the backoff between tries is the subscription's own, 250 ms to 5 s).
    for (let i = 0; i < 600 && calls.at(-1) !== 'commit 0@1'; i++) await new Promise((r) => setTimeout(r, 50));
    expect(calls).toEqual([...Array.from({ length: 8 }, () => 'failed commit 0@1'), 'commit 0@1']);
    // Run at the start; stopped and run again (a join, which finds the coordinator) after the third failure, once.
    expect(lifecycle).toEqual(['run', 'stop', 'run']);
    expect(sub.lanes().partitions).toMatchObject([{ partition: 0, committed: '1' }]);
    await sub.close();
  }, 60_000);

  it('does not rejoin for other commit errors, and never gives the commit up while open', async () => {
    const { kafka, calls, lifecycle, each } = fakeKafka({
      commitErrors: Array.from({ length: 8 }, () => 'REQUEST_TIMED_OUT'),
    });
    const sub = new KafkaSubscription(
      { group: 'bottleneck-clean', types: ['trigger'], handler: async () => {} },
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
    await each(trigger(0, '2050-01'));
    for (let i = 0; i < 600 && calls.at(-1) !== 'commit 0@1'; i++) await new Promise((r) => setTimeout(r, 50));
    expect(calls).toEqual([...Array.from({ length: 8 }, () => 'failed commit 0@1'), 'commit 0@1']);
    expect(lifecycle).toEqual(['run']);
    await sub.close();
  }, 60_000);
});
