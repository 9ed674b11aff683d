import type { Consumer, EachMessagePayload, Kafka, KafkaMessage } from 'kafkajs';
import { createError } from '../../errors/index.js';
import type { Subscription } from '../../ports/bus.js';
import { withRetry } from '../../retry/index.js';
import type { Logger } from '../../stage/context.js';
import { describeKafkaError } from './topics.js';

export interface RawSubscriptionOptions {
  topic: string;
  group: string;
  handler: (m: { topic: string; partition: number; message: KafkaMessage }) => Promise<void>;
  heartbeatIntervalMs: number;
  sessionTimeoutMs: number;
  /** Longest backoff between calls of a handler that keeps throwing, ms. */
  maxRetryDelayMs: number;
}

/**
 * A consumer of one topic whose messages are not pipeline events (the store's notifications, the
 * dead-letter topic). Each message is handed over until the handler resolves (a throw is retried
 * with backoff, forever: nothing on these topics may be dropped; the consumer heartbeats
 * meanwhile), and its offset committed only then: at least once. Starting retries what a
 * just-created topic answers for a moment on KRaft (UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER).
 */
export class RawSubscription implements Subscription {
  private consumer: Consumer | undefined;
  /** Why the consumer stopped for good (it will not restart itself), or null. */
  dead: string | null = null;

  get topic(): string {
    return this.o.topic;
  }
  private closing = false;
  private inFlight: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly o: RawSubscriptionOptions,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    const retry = {
      retries: 8,
      initialDelayMs: 200,
      maxDelayMs: 2_000,
      shouldRetry: (e: unknown) => Boolean((e as { retriable?: boolean }).retriable),
      onRetry: (e: unknown, attempt: number) =>
        this.log.warn({ topic: this.o.topic, attempt, err: describeKafkaError(e) }, 'consumer start: retrying'),
    };
    try {
      this.consumer = await withRetry(async () => {
        const c = this.kafka.consumer({
          groupId: this.o.group,
          maxWaitTimeInMs: 100,
          sessionTimeout: this.o.sessionTimeoutMs,
          heartbeatInterval: this.o.heartbeatIntervalMs,
          allowAutoTopicCreation: false,
        });
        c.on(c.events.CRASH, ({ payload }) => {
          if (!payload.restart) this.dead = describeKafkaError(payload.error);
          this.log.error(
            {
              topic: this.o.topic,
              group: this.o.group,
              restart: payload.restart,
              err: describeKafkaError(payload.error),
            },
            payload.restart ? 'consumer crashed: restarting' : 'consumer crashed: not restarting',
          );
        });
        try {
          await c.connect();
          await c.subscribe({ topic: this.o.topic, fromBeginning: true });
          await c.run({ autoCommit: false, eachMessage: (p) => this.each(p, c) });
          return c;
        } catch (e) {
          await c.disconnect().catch(() => undefined);
          throw e;
        }
      }, retry);
    } catch (e) {
      throw createError(
        'BN_ERR_BUS_CONNECT',
        `consumer group ${this.o.group} could not subscribe to ${this.o.topic}: ${describeKafkaError(e)}`,
        { cause: e },
      );
    }
  }

  private async each(payload: EachMessagePayload, c: Consumer): Promise<void> {
    const { topic, partition, message } = payload;
    if (this.closing) return;
    let resolve!: () => void;
    this.inFlight = new Promise((r) => (resolve = r));
    const beat = setInterval(() => void payload.heartbeat().catch(() => undefined), this.o.heartbeatIntervalMs);
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          await this.o.handler({ topic, partition, message });
          break;
        } catch (e) {
          const delayMs = Math.min(this.o.maxRetryDelayMs, 200 * 2 ** Math.min(attempt - 1, 10));
          this.log.warn(
            {
              topic,
              partition,
              offset: message.offset,
              attempt,
              delayMs,
              err: e instanceof Error ? e.message : String(e),
            },
            "handler failed: retrying (this topic's messages are never dropped)",
          );
          if (!(await this.sleep(delayMs))) return;
        }
      }
      await c.commitOffsets([{ topic, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
    } finally {
      clearInterval(beat);
      resolve();
      this.inFlight = undefined;
    }
  }

  private sleep(ms: number): Promise<boolean> {
    if (this.closing) return Promise.resolve(false);
    return new Promise((r) => {
      const t = setTimeout(() => {
        this.wake = undefined;
        r(true);
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        this.wake = undefined;
        r(false);
      };
    });
  }

  /** Stops after the message in flight (a handler waiting to be retried is left uncommitted). */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.wake?.();
    await this.inFlight;
    await this.consumer?.disconnect();
  }
}
