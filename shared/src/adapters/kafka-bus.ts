import type { ConnectionOptions } from 'node:tls';
import {
  Kafka,
  Partitioners,
  type Admin,
  type KafkaConfig,
  type Message,
  type Producer,
  type RetryOptions,
  type SASLOptions,
} from 'kafkajs';
import { BottleneckError, createError, errorMessage } from '../errors/index.js';
import { kafkaTransient } from './kafka-errors.js';
import { parseEvent, type EventKeys, type EventType, type PipelineEvent } from '../events/index.js';
import type {
  Bus,
  DeadLetterMessage,
  LanesReport,
  RawSubscribeOptions,
  SubscribeOptions,
  Subscription,
} from '../ports/bus.js';
import { silentLogger, type Logger } from '../stage/context.js';
import { EVENT_HEADERS, deadLetterMessageOf, type KafkaDeadLetter } from './kafka/dead-letter.js';
import { RawSubscription, type RawSubscriptionOptions } from './kafka/raw-subscription.js';
import { KAFKA_LOG_LEVELS, kafkaLogCreator, type KafkaLogLevel } from './kafka/log.js';
import { KafkaSubscription, type ConsumerSettings } from './kafka/subscription.js';
import { allTopics, describeKafkaError, ensureTopics, topicName, DEAD_LETTER_SUFFIX } from './kafka/topics.js';

export { DEAD_LETTER_HEADERS, EVENT_HEADERS, type KafkaDeadLetter } from './kafka/dead-letter.js';
export type { KafkaLogLevel } from './kafka/log.js';

/** Settings of the Kafka bus. Only `brokers` is required. */
export interface KafkaBusOptions {
  /** `host:port` of one or more brokers. */
  brokers: string[];
  /** kafkajs client id, seen in broker logs and quotas (default `bottleneck`). */
  clientId?: string;
  /** Topics are `<prefix>.<event type>` and `<prefix>.dead-letter` (default `bottleneck`). */
  topicPrefix?: string;
  /** Partitions of each topic created at start (default 3). Existing topics are left as they are. */
  numPartitions?: number;
  /**
   * Replication factor of the topics created at start: a number, -1 for the broker's
   * `default.replication.factor`, or `'auto'` (3 copies and `min.insync.replicas` 2 on a cluster of
   * three brokers or more, fewer on a smaller one: see replicationFor). Default -1.
   */
  replicationFactor?: number | 'auto';
  /** Extra topic configuration at creation, e.g. `{ 'retention.ms': '1209600000' }`. */
  topicConfig?: Record<string, string>;
  /** Handler calls for one message before it goes to the dead-letter topic (default 5). */
  maxAttempts?: number;
  /** Backoff before the second call, ms, doubled each time (default 200). */
  retryDelayMs?: number;
  /** Longest backoff between calls, ms (default 5,000). */
  maxRetryDelayMs?: number;
  /** Called after a message was written to the dead-letter topic. */
  onDeadLetter?: (dl: KafkaDeadLetter) => void;
  /** Where the bus's and kafkajs's logs go (default: nowhere). Credentials never reach it. */
  logger?: Logger;
  /** Least severe kafkajs log level passed to the logger (default `warn`). */
  kafkaLogLevel?: KafkaLogLevel;
  /** TLS to the brokers. Never logged. */
  ssl?: ConnectionOptions | boolean;
  /** SASL credentials (plain, scram-sha-256/512, aws, oauthbearer). Never logged. */
  sasl?: SASLOptions;
  /**
   * kafkajs's retry of retriable Kafka errors (leader moved, coordinator loading, connection
   * lost), for the producer, the consumers and the admin client (default 10 retries from 100 ms
   * up to 5 s; about 30 s in all).
   */
  retry?: RetryOptions;
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** Consumer session timeout (default 30,000 ms): a consumer silent this long is removed from its group. */
  sessionTimeoutMs?: number;
  /** Heartbeat period, also while a handler runs (default 3,000 ms; keep under a third of the session timeout). */
  heartbeatIntervalMs?: number;
  /** How long a rebalance waits for members to rejoin (default 60,000 ms). */
  rebalanceTimeoutMs?: number;
  /** Longest a fetch waits on a quiet topic (default 50 ms); data is returned as soon as it is there. */
  maxWaitTimeInMs?: number;
  /** Partitions (months) handled at once per subscription (default 1: one message at a time, like MemoryBus). */
  partitionsConsumedConcurrently?: number;
  /**
   * Months (message keys) handled at once by each subscription, across its partitions (default 4).
   * Each month's events run in order in a lane of their own, so a slow month holds only its own
   * later events; a further month waits for a free lane (in the lanes: its partition goes on being read).
   */
  monthsInFlight?: number;
  /** How long close() lets a running handler finish before leaving its message uncommitted (default 30,000 ms). */
  closeTimeoutMs?: number;
  /** How long subscribe() waits for the group to assign partitions (default 30,000 ms); delivery starts later if it takes longer. */
  joinTimeoutMs?: number;
  /** Clock for dead-letter and `failed` timestamps (tests). */
  now?: () => Date;
  /**
   * Event signing keys (BN_EVENT_KEYS): every event produced is signed with the first, every event
   * consumed must carry a signature one of them made, else it is dead-lettered at once
   * (BN_ERR_EVENT_UNSIGNED / BN_ERR_EVENT_SIGNATURE). Unset: nothing signed, nothing checked.
   */
  eventKeys?: EventKeys | null;
}

const DEFAULT_RETRY: RetryOptions = { retries: 10, initialRetryTime: 100, maxRetryTime: 5_000 };

function positiveInt(name: string, v: number | undefined, dflt: number, min = 1): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || v < min) {
    throw createError(
      'BN_ERR_CONFIG_INVALID',
      `KafkaBus option ${name} must be an integer >= ${min}, got ${String(v)}`,
    );
  }
  return v;
}

/**
 * The event bus on Kafka (kafkajs), behind the same port as MemoryBus: the stages do not change.
 *
 * - One topic per event type, `<prefix>.<type>`, and `<prefix>.dead-letter`; created at start
 *   (`start()`, or lazily by the first publish or subscribe) with the configured partitions and
 *   replication factor; existing topics are left as they are.
 * - The message key is the event's partition (the month, `YYYY-MM`), so one month's events stay in
 *   order; headers `event-type` and `schema-version`; the value is the event's JSON, validated with
 *   parseEvent before producing and decodeEvent when consuming.
 * - Producer: idempotent, one request in flight, acks from all in-sync replicas; retriable Kafka
 *   errors are retried by kafkajs with backoff (`retry`).
 * - Each subscription is a consumer in its `group`, reading from the log start when the group is
 *   new. An offset is committed only after the handler resolved (at-least-once). A handler that
 *   throws is called again with backoff, `maxAttempts` times in all, then the message goes to the
 *   dead-letter topic and the consumer commits and moves on. A message that is not a valid event
 *   goes to the dead-letter topic at once (headers name its topic, partition, offset, error class
 *   and message) and, when its run and month can be read, a `failed` event is published.
 * - The consumer heartbeats while a handler runs, so a slow month does not cause a rebalance.
 * - Messages go to per-month lanes: one month's events in order, other months beside them (up to
 *   `monthsInFlight`), so a slow month does not hold the months that share its partition.
 *
 * @example
 * const bus = new KafkaBus({ brokers: ['127.0.0.1:9092'], logger, onDeadLetter: (dl) => logger.warn(dl, 'dead letter') });
 * await bus.start();
 * await bus.subscribe({ group: 'clean', types: ['file-arrived'], handler: bindStage(cleanStage, ctx, bus) });
 * // on SIGTERM:
 * await bus.close();
 */
export class KafkaBus implements Bus {
  /** Topic prefix: topics are `<prefix>.<type>` and `<prefix>.dead-letter`. */
  readonly prefix: string;
  private readonly kafka: Kafka;
  /** A new client with the bus's settings, for each subscription (see subscribe). A closure: the credentials are no property of the bus. */
  private readonly newClient: () => Kafka;
  private readonly producer: Producer;
  private readonly admin: Admin;
  private readonly log: Logger;
  private readonly brokers: string;
  private readonly topicSettings: {
    numPartitions: number;
    replicationFactor: number | 'auto';
    configEntries?: Record<string, string>;
  };
  private readonly consumerSettings: ConsumerSettings;
  private readonly onDeadLetter: ((dl: KafkaDeadLetter) => void) | undefined;
  private readonly now: () => Date;
  private readonly eventKeys: EventKeys | null;
  private readonly subs = new Set<KafkaSubscription>();
  private readonly rawSubs = new Set<RawSubscription>();
  private starting: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  /** Set once the subscriptions are closed: until then, handlers finishing their message may still publish. */
  private closed = false;

  constructor(options: KafkaBusOptions) {
    if (
      !Array.isArray(options.brokers) ||
      options.brokers.length === 0 ||
      options.brokers.some((b) => typeof b !== 'string' || !/^[^\s:]+:\d+$/.test(b))
    ) {
      throw createError(
        'BN_ERR_CONFIG_INVALID',
        `KafkaBus option brokers must be a non-empty list of host:port, got ${JSON.stringify(options.brokers)}`,
      );
    }
    this.prefix = options.topicPrefix ?? 'bottleneck';
    this.eventKeys = options.eventKeys ?? null;
    if (!/^[A-Za-z0-9._-]{1,200}$/.test(this.prefix)) {
      throw createError(
        'BN_ERR_CONFIG_INVALID',
        `KafkaBus option topicPrefix must be 1-200 characters of [A-Za-z0-9._-], got ${JSON.stringify(this.prefix)}`,
      );
    }
    const rf = options.replicationFactor ?? -1;
    if (rf !== 'auto' && (!Number.isInteger(rf) || (rf < 1 && rf !== -1))) {
      throw createError(
        'BN_ERR_CONFIG_INVALID',
        `KafkaBus option replicationFactor must be an integer >= 1, -1 for the broker default, or 'auto', got ${String(rf)}`,
      );
    }
    this.topicSettings = {
      numPartitions: positiveInt('numPartitions', options.numPartitions, 3),
      replicationFactor: rf,
      ...(options.topicConfig ? { configEntries: options.topicConfig } : {}),
    };
    const retry = { ...DEFAULT_RETRY, ...options.retry };
    const sessionTimeoutMs = positiveInt('sessionTimeoutMs', options.sessionTimeoutMs, 30_000);
    this.consumerSettings = {
      sessionTimeoutMs,
      heartbeatIntervalMs: positiveInt(
        'heartbeatIntervalMs',
        options.heartbeatIntervalMs,
        Math.min(3_000, Math.floor(sessionTimeoutMs / 3)),
      ),
      rebalanceTimeoutMs: positiveInt('rebalanceTimeoutMs', options.rebalanceTimeoutMs, 60_000),
      maxWaitTimeInMs: positiveInt('maxWaitTimeInMs', options.maxWaitTimeInMs, 50),
      partitionsConsumedConcurrently: positiveInt(
        'partitionsConsumedConcurrently',
        options.partitionsConsumedConcurrently,
        1,
      ),
      maxAttempts: positiveInt('maxAttempts', options.maxAttempts, 5),
      retryDelayMs: positiveInt('retryDelayMs', options.retryDelayMs, 200, 0),
      maxRetryDelayMs: positiveInt('maxRetryDelayMs', options.maxRetryDelayMs, 5_000, 0),
      closeTimeoutMs: positiveInt('closeTimeoutMs', options.closeTimeoutMs, 30_000, 0),
      joinTimeoutMs: positiveInt('joinTimeoutMs', options.joinTimeoutMs, 30_000, 0),
      monthsInFlight: positiveInt('monthsInFlight', options.monthsInFlight, 4),
      retry,
    };
    this.log = options.logger ?? silentLogger;
    this.brokers = options.brokers.join(',');
    this.onDeadLetter = options.onDeadLetter;
    this.now = options.now ?? (() => new Date());
    // The credentials go to the clients and nowhere else: this object keeps no reference to them.
    const clientConfig: KafkaConfig = {
      clientId: options.clientId ?? 'bottleneck',
      brokers: [...options.brokers],
      ...(options.ssl !== undefined ? { ssl: options.ssl } : {}),
      ...(options.sasl !== undefined ? { sasl: options.sasl } : {}),
      ...(options.connectionTimeoutMs !== undefined ? { connectionTimeout: options.connectionTimeoutMs } : {}),
      ...(options.requestTimeoutMs !== undefined ? { requestTimeout: options.requestTimeoutMs } : {}),
      retry,
      logLevel: KAFKA_LOG_LEVELS[options.kafkaLogLevel ?? 'warn'],
      logCreator: kafkaLogCreator(this.log),
    };
    this.newClient = () => new Kafka(clientConfig);
    this.kafka = this.newClient();
    this.producer = this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // The Java client's murmur2 partitioner: the same key lands on the same partition from any client.
      createPartitioner: Partitioners.DefaultPartitioner,
      retry,
    });
    this.admin = this.kafka.admin({ retry });
  }

  /** The topic of an event type. */
  topicOf(type: EventType): string {
    return topicName(this.prefix, type);
  }

  /** The dead-letter topic. */
  get deadLetterTopic(): string {
    return topicName(this.prefix, DEAD_LETTER_SUFFIX);
  }

  /** Every topic the bus uses: one per event type, then the dead-letter topic. */
  topics(): string[] {
    return allTopics(this.prefix);
  }

  /**
   * Connects, creates the topics that do not exist, and connects the producer. Idempotent; called
   * by the first publish or subscribe if not before. Throws BN_ERR_BUS_CONNECT or BN_ERR_BUS_TOPICS.
   */
  start(): Promise<void> {
    if (this.closed) return Promise.reject(this.closedError('start'));
    this.starting ??= this.doStart().catch((e: unknown) => {
      this.starting = undefined;
      throw e;
    });
    return this.starting;
  }

  private async doStart(): Promise<void> {
    try {
      await this.admin.connect();
    } catch (e) {
      throw createError(
        'BN_ERR_BUS_CONNECT',
        `could not connect to the Kafka brokers ${this.brokers}: ${describeKafkaError(e)}`,
        { cause: e, retriable: kafkaTransient(e) },
      );
    }
    await ensureTopics(this.admin, this.topics(), this.topicSettings, this.log);
    try {
      await this.producer.connect();
    } catch (e) {
      throw createError(
        'BN_ERR_BUS_CONNECT',
        `the producer could not connect to the Kafka brokers ${this.brokers}: ${describeKafkaError(e)}`,
        { cause: e, retriable: kafkaTransient(e) },
      );
    }
    this.log.info({ brokers: this.brokers, prefix: this.prefix, ...this.topicSettings }, 'Kafka bus started');
  }

  /** Validates the event and produces it to its type's topic, keyed by its month; resolves once all in-sync replicas have it. */
  async publish(event: PipelineEvent): Promise<void> {
    if (this.closed) throw this.closedError('publish');
    const valid = parseEvent(event);
    await this.start();
    await this.produce(
      this.topicOf(valid.type),
      [
        {
          key: valid.partition,
          value: JSON.stringify(this.eventKeys ? this.eventKeys.sign(valid) : valid),
          headers: { [EVENT_HEADERS.type]: valid.type, [EVENT_HEADERS.version]: String(valid.v) },
        },
      ],
      `${valid.type} event ${valid.id} (run ${valid.runId}, partition ${valid.partition})`,
    );
  }

  /** Produces a raw message to a topic that carries no events, creating the topic (with the bus's settings) when missing. */
  async publishRaw(topic: string, value: string, key?: string): Promise<void> {
    if (this.closed) throw this.closedError('publishRaw');
    await this.start();
    await this.ensureTopic(topic);
    await this.produce(topic, [{ key: key ?? null, value }], `raw message to ${topic}`);
  }

  /** Reads a topic that carries no events (created when missing), in a consumer group, at least once per message. */
  async subscribeRaw(opts: RawSubscribeOptions): Promise<Subscription> {
    return this.rawSubscription(opts.topic, opts.group, async ({ topic, message }) =>
      opts.handler({
        topic,
        key: message.key?.toString('utf8') ?? null,
        value: message.value?.toString('utf8') ?? '',
      }),
    );
  }

  /** Reads the dead-letter topic: each message with where it came from and why (from its headers). */
  async subscribeDeadLetters(opts: {
    group: string;
    handler: (dl: DeadLetterMessage) => Promise<void>;
  }): Promise<Subscription> {
    return this.rawSubscription(this.deadLetterTopic, opts.group, async ({ message }) =>
      opts.handler(deadLetterMessageOf(message)),
    );
  }

  private async rawSubscription(
    topic: string,
    group: string,
    handler: RawSubscriptionOptions['handler'],
  ): Promise<Subscription> {
    if (this.closing) throw this.closedError('subscribe');
    await this.start();
    await this.ensureTopic(topic);
    const sub = new RawSubscription(
      this.kafka,
      {
        topic,
        group,
        handler,
        heartbeatIntervalMs: this.consumerSettings.heartbeatIntervalMs,
        sessionTimeoutMs: this.consumerSettings.sessionTimeoutMs,
        maxRetryDelayMs: this.consumerSettings.maxRetryDelayMs,
      },
      this.log,
    );
    await sub.start();
    this.rawSubs.add(sub);
    return {
      close: async () => {
        try {
          await sub.close();
        } finally {
          this.rawSubs.delete(sub);
        }
      },
    };
  }

  private readonly knownTopics = new Set<string>();

  private async ensureTopic(topic: string): Promise<void> {
    if (this.knownTopics.has(topic) || this.topics().includes(topic)) return;
    await ensureTopics(this.admin, [topic], this.topicSettings, this.log);
    this.knownTopics.add(topic);
  }

  /** Starts a consumer in `opts.group` for `opts.types`; resolves once the group has assigned it partitions. */
  async subscribe(opts: SubscribeOptions): Promise<Subscription> {
    if (this.closing) throw this.closedError('subscribe');
    if (!opts.group)
      throw createError('BN_ERR_CONFIG_INVALID', 'subscribe: group must be a non-empty consumer group name');
    if (opts.types.length === 0) return { close: async () => {} };
    await this.start();
    const sub = new KafkaSubscription(opts, {
      // A client of its own: the consumers of one kafkajs client share a group's committed-offset
      // cache, and a second subscription of the same group (its own topics) clears the first one's
      // entries when it joins, which crashes the first consumer (TypeError in resolveOffsets).
      kafka: this.newClient(),
      prefix: this.prefix,
      settings: this.consumerSettings,
      log: this.log,
      produce: (topic, messages) => this.produce(topic, messages, `dead-letter record for group ${opts.group}`),
      publish: (e) => this.publish(e),
      eventKeys: this.eventKeys,
      ...(this.onDeadLetter ? { onDeadLetter: this.onDeadLetter } : {}),
      now: this.now,
    });
    this.subs.add(sub);
    try {
      await sub.start();
    } catch (e) {
      this.subs.delete(sub);
      throw e;
    }
    return {
      close: async () => {
        try {
          await sub.close();
        } finally {
          this.subs.delete(sub);
        }
      },
    };
  }

  /**
   * Closes every subscription (each after its message in flight, see closeTimeoutMs), then the
   * producer and the admin client. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.allSettled([...this.subs, ...this.rawSubs].map((s) => s.close()));
      this.subs.clear();
      this.rawSubs.clear();
      this.closed = true;
      // Let a start in progress settle before disconnecting what it connects.
      await this.starting?.catch(() => {});
      await Promise.allSettled([this.producer.disconnect(), this.admin.disconnect()]);
      this.log.info({ prefix: this.prefix }, 'Kafka bus closed');
    })();
    return this.closing;
  }

  /**
   * Why the bus is not ready, or null: connected, and every subscription has joined its group
   * with partitions assigned (a consumer that crashed for good makes the service not ready).
   */
  async readiness(): Promise<string | null> {
    if (this.closing) return 'closing';
    try {
      await this.start();
    } catch (e) {
      return errorMessage(e);
    }
    for (const s of this.subs) {
      if (s.dead) return `consumer of group ${s.group} stopped: ${s.dead}`;
      if (s.assigned === 0) return `consumer of group ${s.group} has no partition assigned yet`;
    }
    // Connected once is not connected now: ask the cluster (briefly, and not more than once a second).
    return this.probe();
  }

  private probing: { at: number; result: Promise<string | null> } | undefined;

  private probe(): Promise<string | null> {
    const now = Date.now();
    if (this.probing && now - this.probing.at < 1_000) return this.probing.result;
    const result = (async () => {
      let timer: NodeJS.Timeout | undefined;
      try {
        return await Promise.race([
          this.admin.describeCluster().then((c) => (c.brokers.length ? null : 'the cluster lists no broker')),
          new Promise<string>((r) => {
            timer = setTimeout(() => r(`the brokers ${this.brokers} did not answer within 1500 ms`), 1_500);
          }),
        ]);
      } catch (e) {
        return `the brokers ${this.brokers} are unreachable: ${describeKafkaError(e)}`;
      } finally {
        clearTimeout(timer);
      }
    })();
    this.probing = { at: now, result };
    return result;
  }

  /** A consumer of this bus that stopped for good (it will not restart itself), or null. */
  liveness(): string | null {
    for (const s of this.subs) if (s.dead) return `consumer of group ${s.group} stopped: ${s.dead}`;
    for (const s of this.rawSubs) if (s.dead) return `consumer of ${s.topic} stopped: ${s.dead}`;
    return null;
  }

  /** What each subscription's month lanes hold now (see KafkaSubscription.lanes). */
  lanes(): LanesReport[] {
    return [...this.subs].map((s) => s.lanes());
  }

  /** Messages not yet consumed, per topic, summed over this bus's subscriptions' groups. */
  async lag(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const s of this.subs) {
      for (const topic of s.topicNames) {
        const [ends, groups] = await Promise.all([
          this.admin.fetchTopicOffsets(topic),
          this.admin.fetchOffsets({ groupId: s.group, topics: [topic] }),
        ]);
        const committed = new Map((groups[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
        out[topic] =
          (out[topic] ?? 0) +
          ends.reduce((n, p) => n + Math.max(0, Number(p.high) - Math.max(0, committed.get(p.partition) ?? 0)), 0);
      }
    }
    return out;
  }

  private async produce(topic: string, messages: Message[], what: string): Promise<void> {
    try {
      await this.producer.send({ topic, acks: -1, messages });
    } catch (e) {
      throw createError(
        'BN_ERR_BUS_PUBLISH',
        `producing the ${what} to topic ${topic} failed: ${describeKafkaError(e)}`,
        { cause: e, retriable: kafkaTransient(e) },
      );
    }
  }

  private closedError(what: string): BottleneckError {
    return createError('BN_ERR_BUS_CLOSED', `${what} called after close() on the Kafka bus (prefix ${this.prefix})`);
  }
}
