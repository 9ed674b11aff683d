import { decodeSignedEvent, EventKeys, isRefusal, parseEvent, type PipelineEvent } from '../events/index.js';
import { createError, defined, errorClassOf } from '../errors/index.js';
import type {
  Bus,
  DeadLetter,
  DeadLetterMessage,
  RawSubscribeOptions,
  SubscribeOptions,
  Subscription,
} from '../ports/bus.js';

export interface MemoryBusOptions {
  /** Deliveries of one message before it goes to the dead-letter list (default 5). */
  maxAttempts?: number;
  /** Backoff between deliveries of a failing message, ms (default 10, doubled each time). */
  retryDelayMs?: number;
  onDeadLetter?: (dl: DeadLetter) => void;
  topicPrefix?: string;
  /**
   * Signing keys. Default: an ephemeral key of the bus's own (nothing outside the process can write
   * to it, so the embedded run signs and verifies every event the way the services do); null: no signing.
   */
  eventKeys?: EventKeys | null;
}

interface Entry {
  topic: string;
  value: string;
  key: string | null;
  raw: boolean;
}

interface Member {
  group: string;
  /** Hands one message to the subscriber: an event decoded and re-validated, or raw text. */
  handle: (e: Entry) => Promise<void>;
  topics: Set<string>;
  pumping: boolean;
  closed: boolean;
  /** Resolves when the message in flight (if any) is done. */
  current: Promise<void>;
}

/**
 * The in-memory bus: the Kafka semantics the stages rely on, in one process. Messages are stored
 * serialized (so a consumer sees what a Kafka consumer would: JSON, re-validated) in one log in
 * publish order. As in Kafka, a consumer group keeps one committed position per topic: the
 * group's subscriptions share its events (a topic is read by the group's oldest subscription that
 * asks for it), a new subscription of a group resumes after the group's last handled event, and
 * a position moves only after the handler is done (at-least-once).
 */
export class MemoryBus implements Bus {
  private readonly log: Entry[] = [];
  /** group -> topic -> index in the log of the next message the group has not handled. */
  private readonly committed = new Map<string, Map<string, number>>();
  private readonly members: Member[] = [];
  private inFlight = 0;
  private closed = false;
  private idleWaiters: (() => void)[] = [];
  readonly deadLetters: DeadLetter[] = [];

  private readonly keys: EventKeys | null;

  constructor(private readonly options: MemoryBusOptions = {}) {
    this.keys = options.eventKeys === undefined ? EventKeys.ephemeral() : options.eventKeys;
  }

  topicOf(type: string): string {
    return `${this.options.topicPrefix ?? 'bottleneck'}.${type}`;
  }

  async publish(event: PipelineEvent): Promise<void> {
    if (this.closed) throw createError('BN_ERR_BUS_CLOSED', 'publish called after close() on the in-memory bus');
    const valid = parseEvent(event);
    const value = JSON.stringify(this.keys ? this.keys.sign(valid) : valid);
    this.append({ topic: this.topicOf(valid.type), value, key: valid.partition, raw: false });
  }

  async publishRaw(topic: string, value: string, key?: string): Promise<void> {
    if (this.closed) throw createError('BN_ERR_BUS_CLOSED', 'publishRaw called after close() on the in-memory bus');
    this.append({ topic, value, key: key ?? null, raw: true });
  }

  private append(e: Entry): void {
    this.log.push(e);
    for (const m of this.members) this.pump(m);
  }

  /** The dead-letter topic: `<prefix>.dead-letter`. */
  get deadLetterTopic(): string {
    return this.topicOf('dead-letter');
  }

  async subscribe(opts: SubscribeOptions): Promise<Subscription> {
    return this.join(
      opts.group,
      opts.types.map((t) => this.topicOf(t)),
      (e) => opts.handler(decodeSignedEvent(e.value, this.keys)),
    );
  }

  async subscribeRaw(opts: RawSubscribeOptions): Promise<Subscription> {
    return this.join(opts.group, [opts.topic], (e) => opts.handler({ topic: e.topic, key: e.key, value: e.value }));
  }

  async subscribeDeadLetters(opts: {
    group: string;
    handler: (dl: DeadLetterMessage) => Promise<void>;
  }): Promise<Subscription> {
    return this.join(opts.group, [this.deadLetterTopic], (e) => opts.handler(JSON.parse(e.value) as DeadLetterMessage));
  }

  private async join(group: string, topics: string[], handle: (e: Entry) => Promise<void>): Promise<Subscription> {
    if (this.closed) throw createError('BN_ERR_BUS_CLOSED', 'subscribe called after close() on the in-memory bus');
    const m: Member = {
      group,
      handle,
      topics: new Set(topics),
      pumping: false,
      closed: false,
      current: Promise.resolve(),
    };
    this.members.push(m);
    this.pump(m);
    return {
      close: async () => {
        m.closed = true;
        // Delivery stops after the message in flight, which finishes first.
        await m.current;
        const i = this.members.indexOf(m);
        if (i >= 0) this.members.splice(i, 1);
        // Another subscription of the group may now own the topics this one read.
        for (const other of this.members) this.pump(other);
      },
    };
  }

  /** Events published so far, for tests: topic and parsed event. */
  messages(): { topic: string; event: PipelineEvent }[] {
    // As handlers see them: the signature checked and removed.
    return this.log
      .filter((m) => !m.raw)
      .map((m) => ({ topic: m.topic, event: decodeSignedEvent(m.value, this.keys) }));
  }

  /** Resolves when every group has handled every message it can get. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  async close(): Promise<void> {
    for (const m of this.members) m.closed = true;
    await Promise.all(this.members.map((m) => m.current));
    this.members.length = 0;
    this.closed = true;
    this.notifyIfIdle();
  }

  /** Whether `m` reads `topic` for its group: the group's oldest open subscription that asks for it. */
  private owns(m: Member, topic: string): boolean {
    return this.members.find((x) => !x.closed && x.group === m.group && x.topics.has(topic)) === m;
  }

  private position(group: string, topic: string): number {
    return this.committed.get(group)?.get(topic) ?? 0;
  }

  private commit(group: string, topic: string, next: number): void {
    let g = this.committed.get(group);
    if (!g) this.committed.set(group, (g = new Map<string, number>()));
    g.set(topic, next);
  }

  private nextFor(m: Member): number {
    let best = -1;
    for (const topic of m.topics) {
      if (!this.owns(m, topic)) continue;
      for (let i = this.position(m.group, topic); i < this.log.length; i++) {
        if (this.log[i]?.topic === topic) {
          if (best === -1 || i < best) best = i;
          break;
        }
      }
    }
    return best;
  }

  private isIdle(): boolean {
    return this.inFlight === 0 && this.members.every((m) => m.closed || this.nextFor(m) === -1);
  }

  private pump(m: Member): void {
    if (m.pumping || m.closed) return;
    m.pumping = true;
    this.inFlight++;
    // Deliver asynchronously, as a broker would: publish never runs a handler on its own stack.
    setImmediate(() => {
      void this.drain(m).finally(() => {
        m.pumping = false;
        this.inFlight--;
        if (!m.closed && this.nextFor(m) !== -1) this.pump(m);
        else this.notifyIfIdle();
      });
    });
  }

  private async drain(m: Member): Promise<void> {
    for (let i = this.nextFor(m); i !== -1 && !m.closed; i = this.nextFor(m)) {
      const msg = defined(this.log[i], `message ${i} of the log`);
      let done!: () => void;
      m.current = new Promise((r) => (done = r));
      try {
        await this.deliver(m, msg, i);
        // Commit only after the handler's effects are done: at-least-once.
        this.commit(m.group, msg.topic, i + 1);
      } finally {
        done();
      }
    }
  }

  private async deliver(m: Member, msg: Entry, offset: number): Promise<void> {
    const max = this.options.maxAttempts ?? 5;
    const delay = this.options.retryDelayMs ?? 10;
    for (let attempt = 1; ; attempt++) {
      try {
        await m.handle(msg);
        return;
      } catch (e) {
        const poison = isRefusal(e);
        // Messages of the dead-letter topic are not dead-lettered again: their reader retries.
        if ((attempt >= max || poison) && msg.topic !== this.deadLetterTopic) {
          const dl: DeadLetter = {
            topic: msg.topic,
            group: m.group,
            offset,
            errorClass: errorClassOf(e),
            message: e instanceof Error ? e.message : String(e),
            value: msg.value,
          };
          this.deadLetters.push(dl);
          this.options.onDeadLetter?.(dl);
          const record: DeadLetterMessage = {
            sourceTopic: msg.topic,
            sourcePartition: 0,
            sourceOffset: String(offset),
            group: m.group,
            errorClass: dl.errorClass,
            errorCode: typeof (e as { code?: unknown }).code === 'string' ? (e as { code: string }).code : null,
            errorMessage: dl.message,
            attempts: poison ? 0 : attempt,
            failedAt: new Date().toISOString(),
            value: msg.value,
          };
          this.append({ topic: this.deadLetterTopic, value: JSON.stringify(record), key: msg.key, raw: true });
          return;
        }
        await new Promise((r) => setTimeout(r, Math.min(1_000, delay * 2 ** (attempt - 1))));
      }
    }
  }

  private notifyIfIdle(): void {
    if (!this.isIdle()) return;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const r of w) r();
  }
}
