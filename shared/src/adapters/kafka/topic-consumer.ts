import { Kafka, logLevel, type EachMessagePayload } from 'kafkajs';
import { withRetry } from '../../retry/index.js';
import type { Logger } from '../../stage/context.js';
import { ensureTopics, type TopicSettings } from './topics.js';

export interface TopicConsumerOptions {
  brokers: string[];
  clientId: string;
  ssl?: boolean;
  groupId: string;
  topic: string;
  /** Create the topic first (idempotent) with these settings. */
  create?: TopicSettings;
  log: Logger;
  /** kafkajs commits a message's offset after this resolves. */
  eachMessage: (p: EachMessagePayload) => Promise<void>;
}

/**
 * A plain consumer of one topic whose messages are not pipeline events (S3 notifications, the
 * dead-letter topic). Starting it retries what a just-created topic answers for a moment on KRaft
 * (UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER: kafkajs marks them retriable), so a service started
 * together with its broker does not exit on them.
 */
export async function startTopicConsumer(o: TopicConsumerOptions): Promise<{ stop(): Promise<void> }> {
  const kafka = new Kafka({ clientId: o.clientId, brokers: o.brokers, logLevel: logLevel.NOTHING, ...(o.ssl ? { ssl: true } : {}) });
  if (o.create) {
    const admin = kafka.admin();
    await admin.connect();
    try {
      await ensureTopics(admin, [o.topic], o.create, o.log);
    } finally {
      await admin.disconnect();
    }
  }
  const retry = { retries: 8, initialDelayMs: 200, maxDelayMs: 2_000, shouldRetry: (e: unknown) => Boolean((e as { retriable?: boolean }).retriable), onRetry: (e: unknown, attempt: number) => o.log.warn({ topic: o.topic, attempt, err: (e as Error).message }, 'consumer start: retrying') };
  const consumer = await withRetry(async () => {
    const c = kafka.consumer({ groupId: o.groupId, maxWaitTimeInMs: 100 });
    try {
      await c.connect();
      await c.subscribe({ topic: o.topic, fromBeginning: true });
      await c.run({ eachMessage: o.eachMessage });
      return c;
    } catch (e) {
      await c.disconnect().catch(() => undefined);
      throw e;
    }
  }, retry);
  return { stop: () => consumer.disconnect() };
}
