import type {
  Consumer,
  ConsumerRunConfig,
  EachMessagePayload,
  Kafka,
  KafkaMessage,
  Message,
  RetryOptions,
} from 'kafkajs';
import { createError, errorClassOf, errorMessage, isBottleneckError } from '../../errors/index.js';
import {
  decodeSignedEvent,
  isRefusal,
  type EventKeys,
  type EventType,
  type PipelineEvent,
} from '../../events/index.js';
import type { LanesReport, SubscribeOptions, Subscription } from '../../ports/bus.js';
import type { Logger } from '../../stage/context.js';
import { subscriptionAwareRoundRobin } from './assigner.js';
import {
  deadLetterOf,
  MAX_DEAD_LETTER_COPY_BYTES,
  referenceOf,
  tooLarge,
  type KafkaDeadLetter,
} from './dead-letter.js';
import { MonthLanes, PartitionOffsets } from './lanes.js';
import { DEAD_LETTER_SUFFIX, describeKafkaError, topicName, typeOfTopic } from './topics.js';

/** How a subscription's consumer behaves; KafkaBus fills in the defaults. */
export interface ConsumerSettings {
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  rebalanceTimeoutMs: number;
  maxWaitTimeInMs: number;
  partitionsConsumedConcurrently: number;
  maxAttempts: number;
  retryDelayMs: number;
  maxRetryDelayMs: number;
  closeTimeoutMs: number;
  joinTimeoutMs: number;
  /** Months (message keys) handled at once by this subscription, across its partitions (lanes.ts). */
  monthsInFlight: number;
  retry: RetryOptions;
  /** First wait before a failed offset commit is tried again, doubling to 20 times it (default 250 ms: up to 5 s). */
  commitBackoffMs?: number;
}

/** What a subscription needs from its bus. */
export interface SubscriptionDeps {
  /** A client for this subscription alone (kafkajs shares a group's offset cache between the consumers of one client). */
  kafka: Kafka;
  prefix: string;
  settings: ConsumerSettings;
  log: Logger;
  /** Produces raw messages (the dead-letter topic); throws BN_ERR_BUS_PUBLISH. */
  produce(topic: string, messages: Message[]): Promise<void>;
  /** Publishes an event (the `failed` event of a poison message); throws BN_ERR_BUS_PUBLISH. */
  publish(event: PipelineEvent): Promise<void>;
  onDeadLetter?: (dl: KafkaDeadLetter) => void;
  now: () => Date;
  /** Keys an event's signature must verify with (null: events are not checked). */
  eventKeys?: EventKeys | null;
}

type Outcome = 'handled' | 'abandoned';

/**
 * Parses a consumed message into an event, or throws BN_ERR_EVENT_INVALID saying where it is and
 * what is wrong. A valid event on the wrong topic is refused too: a consumer gets only the types it
 * subscribed to.
 */
export function decodeMessage(
  topic: string,
  partition: number,
  message: KafkaMessage,
  expected: EventType | undefined,
  keys: EventKeys | null = null,
): PipelineEvent {
  const where = `message at offset ${message.offset} of ${topic} partition ${partition}`;
  if (message.value === null) {
    throw createError('BN_ERR_EVENT_INVALID', `${where} has no value (a tombstone); the bus never produces one`);
  }
  let event: PipelineEvent;
  try {
    event = decodeSignedEvent(message.value.toString('utf8'), keys);
  } catch (e) {
    if (isBottleneckError(e) && (e.code === 'BN_ERR_EVENT_UNSIGNED' || e.code === 'BN_ERR_EVENT_SIGNATURE'))
      throw createError(e.code, `${where}: ${e.message}`, { cause: e });
    throw createError('BN_ERR_EVENT_INVALID', `${where} is not a valid event: ${errorMessage(e)}`, {
      cause: e,
    });
  }
  if (expected !== undefined && event.type !== expected) {
    throw createError(
      'BN_ERR_EVENT_INVALID',
      `${where} is a "${event.type}" event, but the topic carries "${expected}" events`,
    );
  }
  return event;
}

/** Tries of a failed offset commit logged one by one (about 15 s, backoff from 250 ms to 5 s); then every 12th. */
const COMMIT_RETRIES = 6;
/**
 * Commit errors that say the group's coordinator moved or the group is being rebuilt. kafkajs sends
 * commits to the coordinator it found when it joined (on NOT_COORDINATOR it refreshes the cluster's
 * metadata, never the coordinator), so once the coordinator has moved (its broker restarted, or the
 * __consumer_offsets leadership moved back to a broker that came back) every commit fails until the
 * consumer rejoins its group, and on a quiet partition nothing makes it rejoin.
 */
const COORDINATOR_ERRORS = new Set([
  'NOT_COORDINATOR_FOR_GROUP',
  'GROUP_COORDINATOR_NOT_AVAILABLE',
  'GROUP_LOAD_IN_PROGRESS',
  'REBALANCE_IN_PROGRESS',
  'ILLEGAL_GENERATION',
  'UNKNOWN_MEMBER_ID',
]);
/**
 * The broker's error type (NOT_COORDINATOR_FOR_GROUP, ...) of a kafkajs error: on the error itself,
 * or on its cause once kafkajs's retries gave up (KafkaJSNumberOfRetriesExceeded wraps it).
 */
export function protocolErrorType(e: unknown): string | undefined {
  for (let x = e, depth = 0; x && typeof x === 'object' && depth < 5; depth++) {
    const { type, cause } = x as { type?: unknown; cause?: unknown };
    if (typeof type === 'string') return type;
    x = cause;
  }
  return undefined;
}

/** Failed commits in a row, with a coordinator error, after which the consumer rejoins its group (about 2 s). */
const REJOIN_AFTER = 3;
/** Failed commits after a rejoin before another (about a minute, at 5 s apart). */
const REJOIN_EVERY = 12;

/** How often the lanes are looked at: a debug line with what they hold, a warning when an offset is stuck. */
const LANES_REPORT_MS = 60_000;
/** An offset in flight longer than this is reported as a warning (a handler hung, or a lane never freed). */
const LANE_STUCK_MS = 5 * 60_000;

/**
 * One subscription: a kafkajs consumer in the subscription's group, reading the topics of its
 * event types. Each message: decode (a poison message goes to the dead-letter topic at once), call
 * the handler (retried in place with backoff, then dead-lettered), and only then commit its
 * offset. The group keeps its heartbeat while a handler runs. Messages go to per-month lanes
 * (lanes.ts): a slow month holds only its own later events, not the other months of its partition.
 */
export class KafkaSubscription implements Subscription {
  private readonly consumer: Consumer;
  private readonly log: Logger;
  private stopping = false;
  private closing: Promise<void> | undefined;
  private readonly sleepers = new Set<() => void>();
  private readonly topics: string[];
  /** eachMessage calls running, and who waits for them to end. */
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];
  /** Offsets of handled messages not committed yet, latest per partition, and the commit running. */
  private readonly toCommit = new Map<string, { topic: string; partition: number; offset: string }>();
  private committing: Promise<void> | undefined;
  private readonly monthLanes: MonthLanes;
  /** Per topic-partition: offsets handed to lanes and not handled yet. */
  private readonly offsets = new Map<string, PartitionOffsets>();
  /** Per topic-partition: the last offset this consumer committed. */
  private readonly committed = new Map<string, string>();
  private reportTimer: NodeJS.Timeout | undefined;
  /** Messages handed to lanes and not handled, past which a partition is paused (memory bound). */
  private readonly maxBuffered: number;
  /** Resume functions of the partitions paused for room. */
  private readonly resumers = new Set<() => void>();
  /** Partitions assigned at the last join (0 before a join or after a rebalance took them), and whether the consumer died. */
  assigned = 0;
  dead: string | null = null;
  private abandon!: () => void;
  private readonly abandoned = new Promise<Outcome>((resolve) => {
    this.abandon = () => resolve('abandoned');
  });

  constructor(
    private readonly opts: SubscribeOptions,
    private readonly deps: SubscriptionDeps,
  ) {
    const s = deps.settings;
    this.log = deps.log;
    this.topics = [...new Set(opts.types)].map((t) => topicName(deps.prefix, t));
    this.monthLanes = new MonthLanes(s.monthsInFlight);
    this.maxBuffered = Math.max(32, s.monthsInFlight * 8);
    this.consumer = deps.kafka.consumer({
      groupId: opts.group,
      partitionAssigners: [subscriptionAwareRoundRobin],
      sessionTimeout: s.sessionTimeoutMs,
      rebalanceTimeout: s.rebalanceTimeoutMs,
      heartbeatInterval: s.heartbeatIntervalMs,
      // A quiet topic: the broker answers a fetch as soon as one byte is there, or after maxWait.
      maxWaitTimeInMs: s.maxWaitTimeInMs,
      minBytes: 1,
      allowAutoTopicCreation: false,
      retry: s.retry,
    });
  }

  /** The group this subscription consumes in, and its topics. */
  get group(): string {
    return this.opts.group;
  }

  get topicNames(): readonly string[] {
    return this.topics;
  }

  /** What the lanes hold now: months in flight, and per partition the offsets in flight and committed. */
  lanes(): LanesReport {
    const { months, waiting } = this.monthLanes.state();
    return {
      group: this.opts.group,
      months,
      waitingForLane: waiting,
      partitions: [...this.offsets.entries()]
        .map(([tp, o]) => {
          const [topic = '', partition = '0'] = tp.split('\u0000');
          return { topic, partition: Number(partition), ...o.state(), committed: this.committed.get(tp) ?? null };
        })
        .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition),
    };
  }

  /**
   * Logs the lanes every LANES_REPORT_MS at debug level, and as a warning when an offset has been
   * in flight for longer than LANE_STUCK_MS (a hung handler, or a lane that never freed up): the
   * partitions it holds, and what the other lanes hold.
   */
  private reportLanes(): void {
    const report = this.lanes();
    const stuck = report.partitions.filter((p) => p.oldestInFlightMs > LANE_STUCK_MS);
    const partitions = report.partitions.filter((p) => p.inFlightCount > 0 || stuck.includes(p));
    if (stuck.length)
      this.log.warn(
        { ...report, partitions, stuck: stuck.map((p) => `${p.topic}/${p.partition}@${p.inFlight[0] ?? '?'}`) },
        `lanes: ${stuck.length} partition(s) with an offset in flight for over ${LANE_STUCK_MS / 60_000} min (its commit point does not move)`,
      );
    else if (partitions.length || report.waitingForLane) this.log.debug({ ...report, partitions }, 'lanes');
  }

  /** Joins the group; resolves once partitions are assigned (or after joinTimeoutMs, with a warning). */
  async start(): Promise<void> {
    const topics = this.topics;
    const c = this.consumer;
    let joined!: () => void;
    const join = new Promise<boolean>((resolve) => {
      joined = () => resolve(true);
    });
    const offJoin = c.on(c.events.GROUP_JOIN, () => joined());
    c.on(c.events.GROUP_JOIN, ({ payload }) => {
      this.assigned = Object.values((payload.memberAssignment as Record<string, number[]> | undefined) ?? {}).reduce(
        (n, parts) => n + parts.length,
        0,
      );
    });
    c.on(c.events.REBALANCING, () => {
      this.assigned = 0;
    });
    c.on(c.events.CRASH, ({ payload }) => {
      if (!payload.restart) this.dead = describeKafkaError(payload.error);
      this.log.error(
        { group: this.opts.group, restart: payload.restart, err: describeKafkaError(payload.error) },
        payload.restart ? 'consumer crashed: restarting' : 'consumer crashed: not restarting',
      );
    });
    try {
      await c.connect();
      await c.subscribe({ topics, fromBeginning: true });
      await c.run(this.runConfig());
    } catch (e) {
      await c.disconnect().catch(() => {});
      throw createError(
        'BN_ERR_BUS_CONNECT',
        `consumer group ${this.opts.group} could not subscribe to ${topics.join(', ')}: ${describeKafkaError(e)}`,
        { cause: e },
      );
    }
    let timer: NodeJS.Timeout | undefined;
    const ok = await Promise.race([
      join,
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(false), this.deps.settings.joinTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
    offJoin();
    this.reportTimer = setInterval(() => this.reportLanes(), LANES_REPORT_MS);
    this.reportTimer.unref();
    if (!ok)
      this.log.warn(
        { group: this.opts.group, joinTimeoutMs: this.deps.settings.joinTimeoutMs },
        'consumer has not joined its group yet: delivery starts when it has',
      );
  }

  /**
   * Stops after the message in flight: a running handler gets up to closeTimeoutMs to finish (its
   * offset is then committed); after that its message is left uncommitted, for the next consumer of
   * the group to get again. A handler waiting to be retried is not retried here: it is left too.
   */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    this.stopping = true;
    clearInterval(this.reportTimer);
    for (const wake of this.sleepers) wake();
    // kafkajs drops commits once the consumer is told to stop, so the consumer keeps running
    // (paused: no new batch, and the current batch ends after its message in flight) until the
    // message in flight is committed; only then does it leave the group.
    try {
      this.consumer.pause(this.topics.map((topic) => ({ topic })));
    } catch {
      // not running yet (close during subscribe): nothing is in flight
    }
    const timer = setTimeout(() => {
      this.log.warn(
        { group: this.opts.group, closeTimeoutMs: this.deps.settings.closeTimeoutMs },
        'handler still running at close: its message is left uncommitted and will be delivered again',
      );
      this.abandon();
    }, this.deps.settings.closeTimeoutMs);
    try {
      await this.idle();
    } finally {
      clearTimeout(timer);
    }
    while (this.committing) await this.committing;
    await this.consumer.disconnect();
  }

  /**
   * Commits a handled message's offset without holding up the next message: a commit costs a
   * round trip to the group coordinator (about 5 ms on Kafka 4.1, which lingers before writing
   * offsets), so commits run one at a time in the background, each carrying the latest handled
   * offset of every partition. A message is still committed only after its handler resolved; a
   * crash before its commit means it is delivered again (at-least-once).
   */
  private commitLater(topic: string, partition: number, offset: string): void {
    this.toCommit.set(`${topic}\u0000${partition}`, { topic, partition, offset });
    if (this.committing) return;
    this.committing = (async () => {
      let failures = 0;
      /** The failure count at the last rejoin: at most one rejoin per REJOIN_EVERY failures. */
      let rejoinedAt: number | undefined;
      while (this.toCommit.size) {
        const offsets = [...this.toCommit.values()];
        this.toCommit.clear();
        try {
          await this.consumer.commitOffsets(offsets);
          for (const o of offsets) this.committed.set(`${o.topic}\u0000${o.partition}`, o.offset);
          failures = 0;
          rejoinedAt = undefined;
        } catch (e) {
          failures++;
          if (this.stopping) {
            this.log.warn(
              { group: this.opts.group, offsets, attempt: failures, err: describeKafkaError(e) },
              'offset commit failed while closing: these events will be delivered again',
            );
            break;
          }
          // A commit given up here is never made if no later message of the partition comes (the
          // group then stays behind for good): it is tried again, a newer offset of a partition,
          // queued meanwhile, replacing it, until it is made or the subscription closes.
          for (const o of offsets) {
            const k = `${o.topic}\u0000${o.partition}`;
            if (!this.toCommit.has(k)) this.toCommit.set(k, o);
          }
          const coordinator = COORDINATOR_ERRORS.has(protocolErrorType(e) ?? '');
          const rejoin =
            coordinator &&
            failures >= REJOIN_AFTER &&
            (rejoinedAt === undefined || failures - rejoinedAt >= REJOIN_EVERY);
          if (failures <= COMMIT_RETRIES || failures % 12 === 0 || rejoin)
            this.log.warn(
              { group: this.opts.group, offsets, attempt: failures, err: describeKafkaError(e) },
              rejoin
                ? 'offset commit failed: the group coordinator moved; rejoining the group to find it'
                : 'offset commit failed: trying again',
            );
          if (rejoin) {
            rejoinedAt = failures;
            await this.rejoin().catch((err: unknown) =>
              this.log.warn({ group: this.opts.group, err: describeKafkaError(err) }, 'rejoining the group failed'),
            );
          }
          // Woken early by close: one last try of what is queued.
          const base = this.deps.settings.commitBackoffMs ?? 250;
          await this.sleep(Math.min(20 * base, base * 2 ** Math.min(failures - 1, 5)));
        }
      }
      this.toCommit.clear();
      // Same tick as the emptiness check above: a commitLater after this starts a new loop.
      this.committing = undefined;
    })();
  }

  /** What kafkajs runs: the same at the start and at a rejoin. */
  private runConfig(): ConsumerRunConfig {
    return {
      autoCommit: false,
      partitionsConsumedConcurrently: this.deps.settings.partitionsConsumedConcurrently,
      eachMessage: (p) => this.eachMessage(p),
    };
  }

  /**
   * Rejoins the group (kafkajs's consumer stopped and run again): the join finds the group's
   * coordinator anew. The messages after the group's last commit are delivered again; their
   * offsets count again in the lanes (PartitionOffsets) and their handlers find their markers:
   * at-least-once, as after any rebalance.
   */
  private async rejoin(): Promise<void> {
    // kafkajs's stop waits for its fetch loop: bounded, so that a hung loop cannot hold the commits
    // (and close) for good; run() then finds the consumer still running and leaves it be.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.consumer.stop(),
      new Promise<void>((r) => {
        timer = setTimeout(r, this.deps.settings.sessionTimeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
    if (!this.stopping) await this.consumer.run(this.runConfig());
  }

  private idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Hands the message to its month's lane and returns at once: kafkajs goes on with the partition's
   * next message (another month runs beside this one; the same month queues behind it; a month
   * beyond monthsInFlight waits for a lane in the lanes, not here). Never waiting here matters:
   * kafkajs rejoins its group after a rebalance only once the batch in hand is through, and a batch
   * held for minutes behind a slow month got the consumer dropped from its group (its commits then
   * failed, and its partitions were fetched again from the old offsets: the one-replica backfill
   * that stalled). The memory is bounded instead: with `maxBuffered` messages handed out and not
   * handled, the partition is paused (the rest of its batch fetched again later) until half of them
   * are. The offset is committed once this message and every earlier one of its partition are handled.
   */
  private async eachMessage(payload: EachMessagePayload): Promise<void> {
    // Closing: a message fetched before the pause is left uncommitted, for the group's next consumer.
    if (this.stopping) return;
    const { topic, partition, message } = payload;
    const tp = `${topic}\u0000${partition}`;
    let offsets = this.offsets.get(tp);
    if (!offsets) this.offsets.set(tp, (offsets = new PartitionOffsets()));
    const offset = BigInt(message.offset);
    offsets.dispatched(offset);
    this.inFlight++;
    const key = message.key?.length ? message.key.toString('utf8') : `partition ${partition}`;
    await this.monthLanes.enqueue(key, async () => {
      try {
        // Not started before close: left uncommitted (and its commit point held), for the next consumer.
        if (this.stopping) return;
        if ((await this.handleUntilDone(payload)) !== 'handled') return;
        const point = offsets.handled(offset);
        if (point !== undefined) this.commitLater(topic, partition, point.toString());
      } finally {
        if (--this.inFlight === 0) for (const w of this.idleWaiters.splice(0)) w();
        this.resumeIfRoom();
      }
    });
    if (this.inFlight >= this.maxBuffered) {
      this.resumers.add(payload.pause());
      this.log.debug(
        { group: this.opts.group, topic, partition, buffered: this.inFlight, maxBuffered: this.maxBuffered },
        'lanes full: partition paused until half of the messages handed out are handled',
      );
    }
  }

  /** Resumes the partitions paused for room once at most half of maxBuffered messages are in lanes. */
  private resumeIfRoom(): void {
    if (this.stopping || this.resumers.size === 0 || this.inFlight > this.maxBuffered / 2) return;
    const resumers = [...this.resumers];
    this.resumers.clear();
    for (const resume of resumers) resume();
  }

  /**
   * Delivers a message until its handler resolved or it went to the dead-letter topic. What throws
   * here is a failed dead-letter write (Kafka unreachable): the message is tried again after a
   * backoff, its offset uncommitted meanwhile, as kafkajs would have fetched it again.
   */
  private async handleUntilDone(payload: EachMessagePayload): Promise<Outcome> {
    const { topic, partition, message } = payload;
    for (;;) {
      try {
        return await this.handleMessage(payload);
      } catch (e) {
        this.log.error(
          { group: this.opts.group, topic, partition, offset: message.offset, err: describeKafkaError(e) },
          'handler failed: the message will be handled again',
        );
        if (!(await this.sleep(Math.max(100, this.deps.settings.maxRetryDelayMs)))) return 'abandoned';
      }
    }
  }

  private async handleMessage(payload: EachMessagePayload): Promise<Outcome> {
    const { topic, partition, message } = payload;
    const stopBeating = this.keepAlive(() => payload.heartbeat());
    try {
      return await this.deliver(topic, partition, message);
    } finally {
      stopBeating();
    }
  }

  private async deliver(topic: string, partition: number, message: KafkaMessage): Promise<Outcome> {
    const src = { topic, partition, message, group: this.opts.group };
    let event: PipelineEvent;
    try {
      event = decodeMessage(
        topic,
        partition,
        message,
        typeOfTopic(this.deps.prefix, topic),
        this.deps.eventKeys ?? null,
      );
    } catch (e) {
      // A poison message never gets better: dead-letter it now, so it does not stall its partition.
      await this.giveUp(src, e, 0);
      return 'handled';
    }
    const { maxAttempts, retryDelayMs, maxRetryDelayMs } = this.deps.settings;
    for (let attempt = 1; ; attempt++) {
      try {
        const run = Promise.resolve()
          .then(() => this.opts.handler(event))
          .then((): Outcome => 'handled');
        return await Promise.race([run, this.abandoned]);
      } catch (e) {
        if (attempt >= maxAttempts || isRefusal(e)) {
          await this.giveUp(src, e, attempt);
          return 'handled';
        }
        const delayMs = Math.min(maxRetryDelayMs, retryDelayMs * 2 ** (attempt - 1));
        this.log.warn(
          {
            group: this.opts.group,
            topic,
            partition,
            offset: message.offset,
            eventId: event.id,
            runId: event.runId,
            attempt,
            delayMs,
            err: errorMessage(e),
          },
          'handler failed: retrying',
        );
        if (!(await this.sleep(delayMs))) return 'abandoned';
      }
    }
  }

  /** Dead-letters a message, publishes `failed` for a poison one, and tells onDeadLetter. */
  private async giveUp(
    src: { topic: string; partition: number; message: KafkaMessage; group: string },
    error: unknown,
    attempts: number,
  ): Promise<void> {
    const now = this.deps.now();
    const { record, message } = deadLetterOf(src, error, attempts, now);
    const dlq = topicName(this.deps.prefix, DEAD_LETTER_SUFFIX);
    try {
      // A message too large to copy whole (it may be the very reason it failed) goes as a reference.
      await this.deps.produce(dlq, [
        (src.message.value?.length ?? 0) > MAX_DEAD_LETTER_COPY_BYTES ? referenceOf(src, message) : message,
      ]);
    } catch (e) {
      if (!tooLarge(e)) throw e;
      await this.deps.produce(dlq, [referenceOf(src, message)]);
    }
    this.log.warn(
      {
        group: src.group,
        topic: src.topic,
        partition: src.partition,
        offset: src.message.offset,
        attempts,
        errorClass: errorClassOf(error),
        code: record.code,
      },
      attempts === 0
        ? 'message is not a valid event: sent to the dead-letter topic'
        : 'handler kept failing: event sent to the dead-letter topic',
    );
    // No `failed` event for a refused message: a refused event is no run (the alerter records it
    // from the dead-letter topic under refused/ and alerts it in an hourly group).
    try {
      this.deps.onDeadLetter?.(record);
    } catch (e) {
      this.log.error({ group: src.group, err: errorMessage(e) }, 'onDeadLetter threw: ignored');
    }
  }

  /** Heartbeats every heartbeatIntervalMs while a message is handled, so a slow month keeps its partitions. */
  private keepAlive(heartbeat: () => Promise<void>): () => void {
    let busy = false;
    const timer = setInterval(() => {
      if (busy) return;
      busy = true;
      heartbeat()
        .catch((e: unknown) =>
          this.log.debug(
            { group: this.opts.group, err: describeKafkaError(e) },
            'heartbeat during a handler failed (a rebalance is pending)',
          ),
        )
        .finally(() => {
          busy = false;
        });
    }, this.deps.settings.heartbeatIntervalMs);
    return () => clearInterval(timer);
  }

  /** Waits ms; false if the subscription started closing meanwhile. */
  private sleep(ms: number): Promise<boolean> {
    if (this.stopping) return Promise.resolve(false);
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve(false);
      };
      const timer = setTimeout(() => {
        this.sleepers.delete(wake);
        resolve(true);
      }, ms);
      this.sleepers.add(wake);
    });
  }
}
