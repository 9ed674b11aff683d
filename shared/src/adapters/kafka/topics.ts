import type { Admin, ITopicConfig } from 'kafkajs';
import { createError } from '../../errors/index.js';
import { EVENT_TYPES, type EventType } from '../../events/index.js';
import { withRetry } from '../../retry/index.js';
import type { Logger } from '../../stage/context.js';
import { kafkaTransient } from '../kafka-errors.js';

/** Suffix of the dead-letter topic: `<prefix>.dead-letter`. */
export const DEAD_LETTER_SUFFIX = 'dead-letter';

/** The topic of one event type: `<prefix>.<type>`, e.g. `bottleneck.cleaned`. */
export function topicName(prefix: string, type: EventType | typeof DEAD_LETTER_SUFFIX): string {
  return `${prefix}.${type}`;
}

/** Every topic the bus uses: one per event type, then the dead-letter topic. */
export function allTopics(prefix: string): string[] {
  return [...EVENT_TYPES.map((t) => topicName(prefix, t)), topicName(prefix, DEAD_LETTER_SUFFIX)];
}

/** The event type a topic carries, or undefined for the dead-letter topic and foreign topics. */
export function typeOfTopic(prefix: string, topic: string): EventType | undefined {
  return EVENT_TYPES.find((t) => topicName(prefix, t) === topic);
}

export interface TopicSettings {
  numPartitions: number;
  /**
   * -1: the broker's `default.replication.factor`; `'auto'`: from the cluster's broker count (see
   * {@link replicationFor}).
   */
  replicationFactor: number | 'auto';
  configEntries?: Record<string, string>;
}

/**
 * The replication of the topics on a cluster of `brokers` brokers when it is `'auto'`: three
 * copies where there are three brokers or more, with `min.insync.replicas` 2 (a write is
 * acknowledged by two brokers, so one broker may fail or restart without losing an acknowledged
 * event or stopping writes); on two brokers two copies, min.insync.replicas 1; on one, one copy.
 *
 * @example
 * replicationFor(3); // { replicationFactor: 3, minInsyncReplicas: 2 }
 */
export function replicationFor(brokers: number): { replicationFactor: number; minInsyncReplicas: number } {
  const replicationFactor = Math.max(1, Math.min(3, brokers));
  return { replicationFactor, minInsyncReplicas: Math.max(1, replicationFactor - 1) };
}

/**
 * Creates the topics that do not exist yet and leaves existing ones as they are (logged at debug:
 * every start after the first finds them), then checks that each one has at least
 * `numPartitions` partitions. Fewer is only a warning: ordering per month still holds, there is
 * just less parallelism. Another client creating the same topics at the same moment is not an
 * error either (kafkajs answers false; its TOPIC_ALREADY_EXISTS response is logged at debug by
 * kafkaLogCreator). Throws BN_ERR_BUS_TOPICS, retriable when what failed was transient (a cold
 * cluster still electing its leaders answers NOT_LEADER or LEADER_NOT_AVAILABLE).
 */
export async function ensureTopics(admin: Admin, topics: string[], s: TopicSettings, log: Logger): Promise<void> {
  let replicationFactor = s.replicationFactor === 'auto' ? -1 : s.replicationFactor;
  try {
    // Just after CreateTopics a KRaft broker's metadata cache may not know the topics yet
    // (UNKNOWN_TOPIC_OR_PARTITION, retriable), which kafkajs's leader wait does not retry: we do.
    const retry = { retries: 6, initialDelayMs: 100, maxDelayMs: 1_000 };
    const config = { ...s.configEntries };
    if (s.replicationFactor === 'auto') {
      const { brokers } = await withRetry(() => admin.describeCluster(), retry);
      const r = replicationFor(brokers.length);
      replicationFactor = r.replicationFactor;
      config['min.insync.replicas'] ??= String(r.minInsyncReplicas);
    }
    const configEntries = Object.entries(config).map(([name, value]) => ({ name, value }));
    const existing = new Set(await withRetry(() => admin.listTopics(), retry));
    const there = topics.filter((t) => existing.has(t));
    const missing = topics.filter((t) => !existing.has(t));
    if (there.length) log.debug({ topics: there }, 'bus topics already exist: left as they are');
    if (missing.length) {
      const specs: ITopicConfig[] = missing.map((topic) => ({
        topic,
        numPartitions: s.numPartitions,
        replicationFactor,
        ...(configEntries.length ? { configEntries } : {}),
      }));
      const created = await withRetry(() => admin.createTopics({ topics: specs, waitForLeaders: true }), retry);
      if (created)
        log.info(
          { topics: missing, numPartitions: s.numPartitions, replicationFactor, ...config },
          'bus topics created',
        );
      else log.debug({ topics: missing }, 'bus topics created meanwhile by another client: left as they are');
    }
    const meta = await withRetry(() => admin.fetchTopicMetadata({ topics }), retry);
    for (const t of meta.topics) {
      if (t.partitions.length < s.numPartitions) {
        log.warn(
          { topic: t.name, partitions: t.partitions.length, configured: s.numPartitions },
          'bus topic exists with fewer partitions than configured: left as it is',
        );
      }
    }
  } catch (e) {
    throw createError(
      'BN_ERR_BUS_TOPICS',
      `creating the bus topics ${topics[0]} ... ${topics.at(-1)} (${s.numPartitions} partitions, replication factor ${replicationFactor === -1 ? (s.replicationFactor === 'auto' ? 'auto' : 'broker default') : replicationFactor}) failed: ${describeKafkaError(e)}`,
      // A cold cluster (leaders not elected yet, a controller moving) is worth another try; a
      // replication factor above the broker count or a refused authorization is not.
      { cause: e, retriable: kafkaTransient(e) },
    );
  }
}

/** A kafkajs error's message, with the broker-side reasons of an aggregate error. */
export function describeKafkaError(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const inner = (e as { errors?: unknown }).errors;
  if (Array.isArray(inner) && inner.length) {
    return `${e.message}: ${inner.map((x) => (x instanceof Error ? `${(x as { type?: string }).type ?? x.name} ${x.message}` : String(x))).join('; ')}`;
  }
  return e.message;
}
