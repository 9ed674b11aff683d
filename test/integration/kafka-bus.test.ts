import { inspect } from 'node:util';
import { Kafka, logLevel, type KafkaMessage } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { KafkaBus, type KafkaBusOptions, type KafkaDeadLetter } from '../../shared/src/adapters/kafka-bus.js';
import type { DeadLetterMessage } from '../../shared/src/ports/bus.js';
import { EventKeys, makeEvent, type EventOf, type PipelineEvent } from '../../shared/src/events/index.js';
import { createError } from '../../shared/src/errors/index.js';
import { failedEvent } from '../../shared/src/stage/runner.js';
import type { Logger } from '../../shared/src/stage/context.js';
import { busContract } from '../../shared/src/testing/contracts/bus.js';
import { uniqueTag, waitUntil } from '../../shared/src/testing/contracts/helpers.js';

const brokers = (process.env.KAFKA_BROKERS ?? '')
  .split(',')
  .map((b) => b.trim())
  .filter(Boolean);
if (!brokers.length)
  throw new Error(
    'KAFKA_BROKERS is not set: run with test/integration/vitest.config.ts (its global setup starts Kafka)',
  );

/** A plain kafkajs client, for what the bus must not do itself: raw produce, raw reads, topic deletion. */
const raw = new Kafka({ clientId: 'kafka-bus-test', brokers, logLevel: logLevel.NOTHING });

async function deleteTopics(topics: string[]): Promise<void> {
  const admin = raw.admin();
  await admin.connect();
  try {
    // Only those that exist: kafkajs retries the deletion of an unknown topic for seconds.
    const existing = new Set(await admin.listTopics());
    const mine = [...new Set(topics)].filter((t) => existing.has(t));
    if (mine.length) await admin.deleteTopics({ topics: mine, timeout: 10_000 });
  } catch {
    // best effort: the prefix is random, nothing else reads these topics
  } finally {
    await admin.disconnect();
  }
}

const FAST: Partial<KafkaBusOptions> = { retryDelayMs: 10, maxRetryDelayMs: 50 };
/**
 * Safety net on each wait for a delivery: a test waits for the condition it needs, and this only
 * stops one that would hang. A cold broker on a loaded 2-core machine needs seconds to settle a
 * group, so it is generous; it is not a speed requirement (`npm run bench:kafka` measures speed).
 */
const WAIT = 90_000;

busContract(
  'KafkaBus',
  async () => {
    const bus = new KafkaBus({ brokers, topicPrefix: uniqueTag('bn'), ...FAST });
    await bus.start();
    return {
      bus,
      cleanup: async () => {
        await bus.close();
        await deleteTopics(bus.topics());
      },
    };
  },
  { timeoutMs: WAIT },
);

type RawMessage = KafkaMessage & { partition: number };

/** Reads `count` messages of a topic from its start, with a plain consumer in a fresh group. */
async function readRaw(topic: string, count: number): Promise<RawMessage[]> {
  const consumer = raw.consumer({ groupId: uniqueTag('raw'), maxWaitTimeInMs: 50 });
  const got: RawMessage[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        got.push({ ...message, partition });
      },
    });
    await waitUntil(() => got.length >= count, WAIT, `${count} message(s) on ${topic}`);
  } finally {
    await consumer.disconnect();
  }
  return got;
}

const headers = (m: KafkaMessage): Record<string, string> =>
  Object.fromEntries(Object.entries(m.headers ?? {}).map(([k, v]) => [k, String(v)]));

describe('KafkaBus (Kafka-specific)', () => {
  const buses: KafkaBus[] = [];
  let runId = uniqueTag('run');

  afterEach(async () => {
    const closing = buses.splice(0);
    for (const b of closing) await b.close();
    await deleteTopics(closing.flatMap((b) => b.topics()));
    runId = uniqueTag('run');
  }, 3 * WAIT);

  function newBus(opts: Partial<KafkaBusOptions> = {}, prefix = uniqueTag('bn')): KafkaBus {
    const bus = new KafkaBus({ brokers, topicPrefix: prefix, ...FAST, ...opts });
    buses.push(bus);
    return bus;
  }

  const trigger = (partition = '2031-07'): EventOf<'trigger'> =>
    makeEvent('trigger', { runId, partition, materializations: {}, checks: [], payload: { source: 'cli' } });

  it('creates every topic with the configured partitions; start is idempotent and quiet about existing topics', async () => {
    const bus = newBus({ numPartitions: 4 });
    await bus.start();
    await bus.start();
    // A second bus on existing topics starts too, and says so at debug level only (every start of
    // a service after the first finds its topics there: that is no warning).
    const lines: { level: string; msg: string; obj: object }[] = [];
    const at = (level: string) => (obj: object, msg?: string) => {
      lines.push({ level, msg: msg ?? '', obj });
    };
    await newBus(
      {
        numPartitions: 4,
        kafkaLogLevel: 'debug',
        logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') },
      },
      bus.prefix,
    ).start();
    expect(lines.filter((l) => l.level === 'warn' || l.level === 'error')).toEqual([]);
    expect(lines.filter((l) => /topic/i.test(l.msg) && l.level !== 'debug').map((l) => l.msg)).toEqual([]);
    expect(lines.find((l) => l.msg === 'bus topics already exist: left as they are')?.obj).toEqual({
      topics: bus.topics(),
    });
    const admin = raw.admin();
    await admin.connect();
    try {
      const meta = await admin.fetchTopicMetadata({ topics: bus.topics() });
      expect(meta.topics.map((t) => [t.name, t.partitions.length]).sort()).toEqual(
        ['trigger', 'file-arrived', 'cleaned', 'validated', 'merged', 'analysed', 'published', 'failed', 'dead-letter']
          .map((t) => [`${bus.prefix}.${t}`, 4])
          .sort(),
      );
    } finally {
      await admin.disconnect();
    }
  });

  it('keys each message by its month (one month, one partition) and sets the event-type and schema-version headers', async () => {
    const bus = newBus({ numPartitions: 4 });
    const sent = [trigger('2031-07'), trigger('2031-08'), trigger('2031-07'), trigger('2031-08'), trigger('2031-07')];
    for (const e of sent) await bus.publish(e);
    const got = await readRaw(bus.topicOf('trigger'), sent.length);
    for (const m of got) {
      const event = JSON.parse(m.value!.toString()) as PipelineEvent;
      expect(m.key?.toString()).toBe(event.partition);
      expect(headers(m)).toEqual({ 'event-type': 'trigger', 'schema-version': '1' });
      expect(event).toEqual(sent.find((e) => e.id === event.id));
    }
    const partitionsOf = (month: string) =>
      new Set(got.filter((m) => m.key?.toString() === month).map((m) => m.partition));
    expect(partitionsOf('2031-07').size).toBe(1);
    expect(partitionsOf('2031-08').size).toBe(1);
    // Within a month, the log holds the events in publish order.
    const july = got.filter((m) => m.key?.toString() === '2031-07').sort((a, b) => Number(a.offset) - Number(b.offset));
    expect(july.map((m) => (JSON.parse(m.value!.toString()) as PipelineEvent).id)).toEqual(
      sent.filter((e) => e.partition === '2031-07').map((e) => e.id),
    );
  });

  it('dead-letters a message too large to copy as a reference to it (where, size, first bytes), and the partition moves on', async () => {
    const bus = newBus();
    await bus.start();
    const topic = bus.topicOf('merged');
    const handled: PipelineEvent[] = [];
    await bus.subscribe({
      group: 'analytics',
      types: ['merged'],
      handler: async (e) => {
        handled.push(e);
      },
    });
    const seen: DeadLetterMessage[] = [];
    await bus.subscribeDeadLetters({
      group: 'alerter-dl',
      handler: async (dl) => {
        if (dl.sourceTopic === topic) seen.push(dl);
      },
    });
    // Just under the broker's 1 MB: producible once, not copyable with dead-letter headers added.
    const huge = `{"runId":"${runId}","partition":"2031-07","pad":"${'x'.repeat(1_000_000)}"}`;
    await bus.publishRaw(topic, huge, '2031-07');
    const next = makeEvent('merged', { runId, partition: '2031-07', materializations: {}, checks: [], payload: {} });
    await bus.publish(next);
    await waitUntil(
      () => handled.length >= 1 && seen.length >= 1,
      WAIT,
      'the next event and the dead-letter reference',
    );
    expect(handled.map((e) => e.id)).toEqual([next.id]);
    const ref = JSON.parse(seen[0]!.value) as {
      reference: boolean;
      topic: string;
      offset: string;
      bytes: number;
      head: string;
    };
    expect(ref).toMatchObject({
      reference: true,
      topic,
      offset: seen[0]!.sourceOffset,
      bytes: Buffer.byteLength(huge),
    });
    expect(ref.head).toBe(huge.slice(0, 2_048));
    expect(seen[0]).toMatchObject({ group: 'analytics', errorCode: 'BN_ERR_EVENT_INVALID', attempts: 0 });
  });

  it('sends a poison message to the dead-letter topic with its origin, publishes no failed event for it (a refused message is no run), and delivers the next event', async () => {
    const dead: KafkaDeadLetter[] = [];
    const bus = newBus({ onDeadLetter: (d) => dead.push(d) });
    await bus.start();
    const topic = bus.topicOf('cleaned');
    const handled: PipelineEvent[] = [];
    const failed: EventOf<'failed'>[] = [];
    await bus.subscribe({
      group: 'merge',
      types: ['cleaned'],
      handler: async (e) => {
        handled.push(e);
      },
    });
    await bus.subscribe({
      group: 'alerter',
      types: ['failed'],
      handler: async (e) => {
        if (e.type === 'failed') failed.push(e);
      },
    });

    const notJson = Buffer.from('not json {');
    // Parseable, with a valid run and month, but no payload: the schema refuses it.
    const noPayload = JSON.stringify({
      id: 'poison-1',
      type: 'cleaned',
      v: 1,
      ts: '2031-07-01T00:00:00.000Z',
      runId,
      partition: '2031-07',
      materializations: {},
      checks: [],
    });
    const good = makeEvent('cleaned', { runId, partition: '2031-07', materializations: {}, checks: [], payload: {} });
    const producer = raw.producer();
    await producer.connect();
    await producer.send({
      topic,
      messages: [
        { key: '2031-07', value: notJson, headers: { 'event-type': 'cleaned' } },
        { key: '2031-07', value: noPayload },
      ],
    });
    await producer.disconnect();
    await bus.publish(good);

    // A genuine failed event of the month, after the poison ones: the failed topic is keyed by month,
    // so a failed event made of a poison message would arrive before it.
    const sentinel = failedEvent('merge', good, createError('BN_ERR_ASSET_FAILED', 'sentinel'), new Date());
    await bus.publish(sentinel);
    await waitUntil(() => handled.length >= 1 && failed.length >= 1, WAIT, 'the good event and the sentinel');
    expect(handled).toEqual([good]);
    const [dl1, dl2] = dead;
    expect(dead).toHaveLength(2);
    const p = dl1!.partition;
    const where = (offset: number) => `message at offset ${offset} of ${topic} partition ${p} is not a valid event: `;
    expect(dl1).toMatchObject({
      topic,
      partition: p,
      offset: 0,
      group: 'merge',
      errorClass: 'BottleneckError',
      code: 'BN_ERR_EVENT_INVALID',
      attempts: 0,
      value: 'not json {',
    });
    expect(dl1!.message).toMatch(
      new RegExp(`^${where(0).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}message is not JSON: .+`),
    );
    const schemaMessage = `${where(1)}event of type "cleaned" does not match its schema: payload: Invalid input: expected object, received undefined`;
    expect(dl2).toEqual({
      topic,
      partition: p,
      offset: 1,
      group: 'merge',
      errorClass: 'BottleneckError',
      code: 'BN_ERR_EVENT_INVALID',
      attempts: 0,
      message: schemaMessage,
      value: noPayload,
    });

    const dlq = (await readRaw(bus.deadLetterTopic, 2)).sort((a, b) => Number(a.offset) - Number(b.offset));
    expect(dlq.map((m) => m.value?.toString())).toEqual(['not json {', noPayload]);
    expect(dlq.map((m) => m.key?.toString())).toEqual(['2031-07', '2031-07']);
    const { 'dlq-failed-at': failedAt, ...h2 } = headers(dlq[1]!);
    expect(Date.parse(failedAt!)).not.toBeNaN();
    expect(h2).toEqual({
      'dlq-source-topic': topic,
      'dlq-source-partition': String(p),
      'dlq-source-offset': '1',
      'dlq-group': 'merge',
      'dlq-error-class': 'BottleneckError',
      'dlq-error-code': 'BN_ERR_EVENT_INVALID',
      'dlq-error-message': schemaMessage,
      'dlq-attempts': '0',
    });
    // The source's own headers are kept.
    expect(headers(dlq[0]!)).toMatchObject({
      'event-type': 'cleaned',
      'dlq-source-offset': '0',
      'dlq-error-message': dl1!.message,
    });

    // No failed event names the poison messages' run: only the sentinel arrived.
    expect(failed.map((f) => f.id)).toEqual([sentinel.id]);
  });

  it('with BN_EVENT_KEYS: signs what it produces; an unsigned or wrongly signed message is dead-lettered at once, never handled', async () => {
    const dead: KafkaDeadLetter[] = [];
    const keys = new EventKeys(['integration-key-0123456789abcdef']);
    const bus = newBus({ onDeadLetter: (d) => dead.push(d), eventKeys: keys });
    await bus.start();
    const topic = bus.topicOf('cleaned');
    const handled: PipelineEvent[] = [];
    await bus.subscribe({
      group: 'merge',
      types: ['cleaned'],
      handler: async (e) => {
        handled.push(e);
      },
    });
    const ev = (id: string) =>
      makeEvent(
        'cleaned',
        { runId, partition: '2031-08', materializations: {}, checks: [], payload: {} },
        new Date(),
        id,
      );
    const producer = raw.producer();
    await producer.connect();
    await producer.send({
      topic,
      messages: [
        { key: '2031-08', value: JSON.stringify(ev('unsigned')) },
        { key: '2031-08', value: JSON.stringify(new EventKeys(['wrong-key-0123456789abcdef']).sign(ev('forged'))) },
      ],
    });
    await producer.disconnect();
    const good = ev('good');
    await bus.publish(good);
    await waitUntil(() => handled.length >= 1 && dead.length >= 2, WAIT, 'the good event and two dead letters');
    expect(handled).toEqual([good]);
    expect(dead.map((d) => [d.code, d.attempts])).toEqual([
      ['BN_ERR_EVENT_UNSIGNED', 0],
      ['BN_ERR_EVENT_SIGNATURE', 0],
    ]);
    const [m] = await readRaw(topic, 3).then((l) => l.filter((x) => x.value?.toString().includes('"good"')));
    expect(keys.verify(JSON.parse(m!.value!.toString()))).toMatchObject({ id: 'good' });
  });

  it('dead-letters an event whose handler always throws after maxAttempts calls; later events still arrive', async () => {
    const dead: KafkaDeadLetter[] = [];
    const bus = newBus({ maxAttempts: 3, onDeadLetter: (d) => dead.push(d) });
    const [bad, next] = [trigger(), trigger()];
    const calls: string[] = [];
    await bus.subscribe({
      group: 'ingest',
      types: ['trigger'],
      handler: async (e) => {
        calls.push(e.id);
        if (e.id === bad.id) throw new Error('cannot handle this one');
      },
    });
    await bus.publish(bad);
    await bus.publish(next);
    await waitUntil(() => calls.includes(next.id), WAIT, 'the event after the failing one');
    expect(calls).toEqual([bad.id, bad.id, bad.id, next.id]);
    expect(dead).toEqual([
      {
        topic: bus.topicOf('trigger'),
        partition: dead[0]!.partition,
        offset: 0,
        group: 'ingest',
        errorClass: 'Error',
        message: 'cannot handle this one',
        value: JSON.stringify(bad),
        attempts: 3,
      },
    ]);
    const [m] = await readRaw(bus.deadLetterTopic, 1);
    expect(m!.value?.toString()).toBe(JSON.stringify(bad));
    expect(m!.key?.toString()).toBe('2031-07');
    expect(headers(m!)).toMatchObject({
      'event-type': 'trigger',
      'schema-version': '1',
      'dlq-attempts': '3',
      'dlq-error-class': 'Error',
      'dlq-error-message': 'cannot handle this one',
      'dlq-source-offset': '0',
    });
    expect(headers(m!)['dlq-error-code']).toBeUndefined();
  });

  it('redelivers an event left uncommitted by a closed consumer to the next consumer of its group (at-least-once)', async () => {
    const bus = newBus({ closeTimeoutMs: 200 });
    const sent = [trigger(), trigger(), trigger()];
    const first: string[] = [];
    let release!: () => void;
    const stuck = new Promise<void>((r) => {
      release = r;
    });
    const sub = await bus.subscribe({
      group: 'clean',
      types: ['trigger'],
      handler: async (e) => {
        first.push(e.id);
        if (e.id === sent[1]!.id) await stuck; // a consumer that dies in the middle of its second event
      },
    });
    for (const e of sent) await bus.publish(e);
    await waitUntil(() => first.length >= 2, WAIT, 'the second event to reach the first consumer');
    await sub.close();
    release();
    expect(first).toEqual([sent[0]!.id, sent[1]!.id]);

    const second: string[] = [];
    await bus.subscribe({
      group: 'clean',
      types: ['trigger'],
      handler: async (e) => {
        second.push(e.id);
      },
    });
    await waitUntil(() => second.length >= 2, WAIT, 'the next consumer to get the rest');
    // The first event was committed; the second was not, so it comes again.
    expect(second).toEqual([sent[1]!.id, sent[2]!.id]);
  });

  it('close() lets the handler in flight finish and commits it', async () => {
    const prefix = uniqueTag('bn');
    const bus = newBus({}, prefix);
    const [slow, later] = [trigger(), trigger()];
    let started = false;
    let finished = false;
    await bus.subscribe({
      group: 'analytics',
      types: ['trigger'],
      handler: async () => {
        started = true;
        await new Promise((r) => setTimeout(r, 500));
        finished = true;
      },
    });
    await bus.publish(slow);
    await waitUntil(() => started, WAIT, 'the handler to start');
    await bus.close();
    expect(finished).toBe(true);

    const again = newBus({}, prefix);
    const seen: string[] = [];
    await again.subscribe({
      group: 'analytics',
      types: ['trigger'],
      handler: async (e) => {
        seen.push(e.id);
      },
    });
    await again.publish(later);
    await waitUntil(() => seen.length >= 1, WAIT, 'the later event');
    expect(seen).toEqual([later.id]);
  });

  it('gives each subscription of one group the partitions of its own types', async () => {
    // A short heartbeat: the first member learns of the second one's joining at its next heartbeat.
    const bus = newBus({ numPartitions: 3, heartbeatIntervalMs: 300 });
    const group = uniqueTag('svc');
    const triggers: string[] = [];
    const merged: string[] = [];
    await bus.subscribe({
      group,
      types: ['trigger'],
      handler: async (e) => {
        triggers.push(e.id);
      },
    });
    await bus.subscribe({
      group,
      types: ['merged'],
      handler: async (e) => {
        merged.push(e.id);
      },
    });
    // The second member's join makes the group rebalance: wait until it has settled, each member
    // holding partitions (on a cold broker this takes seconds; subscribe() may return before).
    let reason: string | null = 'not asked yet';
    await waitUntil(
      async () => (reason = await bus.readiness()) === null,
      WAIT,
      'the group to settle with partitions for both subscriptions',
    ).catch((e: Error) => {
      throw new Error(`${e.message} (last: ${reason})`);
    });
    // Months spread over the three partitions of each topic.
    const months = ['2031-01', '2031-02', '2031-03', '2031-04', '2031-05', '2031-06', '2031-07', '2031-08'];
    const t = months.map((m) => trigger(m));
    const m = months.map((p) =>
      makeEvent('merged', { runId, partition: p, materializations: {}, checks: [], payload: {} }),
    );
    for (const e of [...t, ...m]) await bus.publish(e);
    await waitUntil(
      () => triggers.length >= t.length && merged.length >= m.length,
      WAIT,
      'every event in its subscription',
    );
    expect([...triggers].sort()).toEqual(t.map((e) => e.id).sort());
    expect([...merged].sort()).toEqual(m.map((e) => e.id).sort());
  });

  it("a slow month does not hold a month of another partition; the slow month's next event waits its turn", async () => {
    const bus = newBus({ numPartitions: 3 });
    // With 3 partitions, 2032-01 and 2032-02 are keyed to different partitions (murmur2).
    const slow = trigger('2032-01');
    const other = trigger('2032-02');
    const after = trigger('2032-01');
    const calls: string[] = [];
    let release!: () => void;
    const released = new Promise<void>((r) => {
      release = r;
    });
    await bus.subscribe({
      group: 'ingest',
      types: ['trigger'],
      handler: async (ev) => {
        calls.push(ev.id);
        if (ev.id === slow.id) await released;
      },
    });
    await bus.publish(slow);
    await waitUntil(() => calls.includes(slow.id), WAIT, 'the slow month to start');
    await bus.publish(other);
    await bus.publish(after);
    await waitUntil(() => calls.includes(other.id), WAIT, 'the other month, while the slow one runs');
    expect(calls).not.toContain(after.id);
    release();
    await waitUntil(() => calls.includes(after.id), WAIT, "the slow month's next event");
    expect(calls).toEqual([slow.id, other.id, after.id]);
  });

  it('heartbeats while a handler runs longer than the session timeout, so the event is handled once', async () => {
    const bus = newBus({ sessionTimeoutMs: 6_000, heartbeatIntervalMs: 500 });
    const calls: string[] = [];
    const e = trigger();
    await bus.subscribe({
      group: 'publisher',
      types: ['trigger'],
      handler: async (ev) => {
        calls.push(ev.id);
        // Longer than the session timeout: what this test is about, not a wait.
        if (calls.length === 1) await new Promise((r) => setTimeout(r, 7_500));
      },
    });
    await bus.publish(e);
    const next = trigger();
    await waitUntil(() => calls.length >= 1, WAIT, 'the slow handler to start');
    await bus.publish(next);
    await waitUntil(() => calls.includes(next.id), WAIT, 'the event after the slow one');
    // Without heartbeats the member is dropped at 6 s, its commit refused, and the event redelivered.
    expect(calls).toEqual([e.id, next.id]);
  });

  it('never logs or exposes SASL credentials', async () => {
    const lines: string[] = [];
    const logger: Logger = {
      debug: (o, m) => lines.push(`${m} ${JSON.stringify(o)}`),
      info: (o, m) => lines.push(`${m} ${JSON.stringify(o)}`),
      warn: (o, m) => lines.push(`${m} ${JSON.stringify(o)}`),
      error: (o, m) => lines.push(`${m} ${JSON.stringify(o)}`),
    };
    const password = 'hunter2-Zq8xV3-not-for-logs';
    const bus = newBus({
      logger,
      kafkaLogLevel: 'debug',
      sasl: { mechanism: 'plain', username: 'bn', password },
      retry: { retries: 1, initialRetryTime: 50 },
    });
    const err = await bus.start().then(
      () => undefined,
      (e: unknown) => e as Error & { code: string; retriable: boolean },
    );
    // The broker has no SASL listener: the handshake is refused, and not retried as if transient.
    expect(err).toMatchObject({ code: 'BN_ERR_BUS_CONNECT', retriable: false });
    expect(err!.message).toMatch(new RegExp(`^could not connect to the Kafka brokers ${brokers.join(',')}: `));
    expect(lines.length).toBeGreaterThan(0);
    const everything = [...lines, err!.message, String(err!.stack), inspect(bus, { depth: 8, showHidden: true })].join(
      '\n',
    );
    expect(everything).not.toContain(password);
  });
});
