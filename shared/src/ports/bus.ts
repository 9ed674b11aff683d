import type { EventType, PipelineEvent } from '../events/index.js';

export type EventHandler = (event: PipelineEvent) => Promise<void>;

export interface SubscribeOptions {
  /** Consumer group: one per service. Each group sees every event of its types once (at least). */
  group: string;
  types: readonly EventType[];
  handler: EventHandler;
}

export interface Subscription {
  /** Stops delivery to this handler after the message in flight. */
  close(): Promise<void>;
}

/** A message of a topic that carries no pipeline events: the store's event notifications, say. */
export interface RawMessage {
  topic: string;
  key: string | null;
  value: string;
}

/** A message the bus gave up on, as its dead-letter topic keeps it: where it came from, and why. */
export interface DeadLetterMessage {
  sourceTopic: string;
  sourcePartition: number;
  sourceOffset: string;
  /** The consumer group that gave up on it. */
  group: string | null;
  errorClass: string | null;
  errorCode: string | null;
  errorMessage: string;
  /** Handler calls made (0: it could not even be decoded). */
  attempts: number | null;
  failedAt: string | null;
  /** The message as it was (text). */
  value: string;
}

export interface RawSubscribeOptions {
  topic: string;
  group: string;
  /** Called for each message, at least once; a throw is retried with backoff (the partition waits). */
  handler: (m: RawMessage) => Promise<void>;
}

/**
 * The event bus. One topic per event type; events of one partition (month) are delivered in the
 * order they were published; delivery is at-least-once, so handlers must be idempotent. A handler
 * that throws gets the event again (with backoff); an event that keeps failing goes to the
 * dead-letter topic and the consumer moves on.
 */
/** One subscription's month lanes (the Kafka bus): what is in flight, and what is committed, per partition. */
export interface LanesReport {
  group: string;
  /** Months holding a lane (running or queued behind their own earlier events). */
  months: string[];
  /** Partitions whose next message waits for a free lane (every lane held by other months). */
  waitingForLane: number;
  partitions: {
    topic: string;
    partition: number;
    /** Offsets handed to lanes and not handled yet, lowest first (at most 20 listed). */
    inFlight: string[];
    inFlightCount: number;
    /** How long the lowest offset in flight has been there, ms: it holds the commit point. */
    oldestInFlightMs: number;
    /** The offset the next commit carries. */
    commitPoint: string;
    /** The last offset committed by this consumer (null before its first commit of the partition). */
    committed: string | null;
  }[];
}

export interface Bus {
  publish(event: PipelineEvent): Promise<void>;
  subscribe(opts: SubscribeOptions): Promise<Subscription>;
  close(): Promise<void>;
  /** Why the bus cannot deliver now (not connected, no partition assigned...), or null when ready. */
  readiness?(): Promise<string | null>;
  /** Why the bus can never deliver again without a restart (a consumer stopped for good), or null. */
  liveness?(): string | null;
  /** Messages not yet consumed by this bus's subscriptions, per topic. */
  lag?(): Promise<Record<string, number>>;
  /** What each subscription's month lanes hold now: months in flight, offsets in flight and committed per partition (a service's /status). */
  lanes?(): LanesReport[];
  /** Writes a raw message to a topic that carries no events (created when missing). */
  publishRaw(topic: string, value: string, key?: string): Promise<void>;
  /** Reads a topic that carries no events, in a consumer group, at least once per message. */
  subscribeRaw(opts: RawSubscribeOptions): Promise<Subscription>;
  /** Reads the messages the bus gave up on (its dead-letter topic), in a consumer group. */
  subscribeDeadLetters(opts: {
    group: string;
    handler: (dl: DeadLetterMessage) => Promise<void>;
  }): Promise<Subscription>;
}

/** What the bus records when it gives up on a message. */
export interface DeadLetter {
  topic: string;
  group: string;
  offset: number;
  errorClass: string;
  message: string;
  value: string;
}
