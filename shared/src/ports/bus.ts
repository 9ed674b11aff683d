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

/**
 * The event bus. One topic per event type; events of one partition (month) are delivered in the
 * order they were published; delivery is at-least-once, so handlers must be idempotent. A handler
 * that throws gets the event again (with backoff); an event that keeps failing goes to the
 * dead-letter topic and the consumer moves on.
 */
export interface Bus {
  publish(event: PipelineEvent): Promise<void>;
  subscribe(opts: SubscribeOptions): Promise<Subscription>;
  close(): Promise<void>;
  /** Why the bus cannot deliver now (not connected, no partition assigned...), or null when ready. */
  readiness?(): Promise<string | null>;
  /** Messages not yet consumed by this bus's subscriptions, per topic. */
  lag?(): Promise<Record<string, number>>;
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
