import { decodeEvent, parseEvent, type PipelineEvent } from '../events/index.js';
import { errorClassOf } from '../errors/index.js';
import type { Bus, DeadLetter, SubscribeOptions, Subscription } from '../ports/bus.js';

export interface MemoryBusOptions {
  /** Deliveries of one message before it goes to the dead-letter list (default 5). */
  maxAttempts?: number;
  /** Backoff between deliveries of a failing message, ms (default 10, doubled each time). */
  retryDelayMs?: number;
  onDeadLetter?: (dl: DeadLetter) => void;
  topicPrefix?: string;
}

interface Group {
  opts: SubscribeOptions;
  /** Index into the log of the next message this group has not handled. */
  offset: number;
  pumping: boolean;
  closed: boolean;
}

/**
 * The in-memory bus: the Kafka semantics the stages rely on, in one process. Messages are stored
 * serialized (so a consumer sees what a Kafka consumer would: JSON, re-validated), kept in one log
 * in publish order; each consumer group reads the log with its own offset, one message at a time.
 */
export class MemoryBus implements Bus {
  private readonly log: { topic: string; value: string }[] = [];
  private readonly groups = new Map<string, Group[]>();
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];
  readonly deadLetters: DeadLetter[] = [];

  constructor(private readonly options: MemoryBusOptions = {}) {}

  topicOf(type: string): string {
    return `${this.options.topicPrefix ?? 'bottleneck'}.${type}`;
  }

  async publish(event: PipelineEvent): Promise<void> {
    const valid = parseEvent(event);
    this.log.push({ topic: this.topicOf(valid.type), value: JSON.stringify(valid) });
    for (const list of this.groups.values()) for (const g of list) this.pump(g);
  }

  async subscribe(opts: SubscribeOptions): Promise<Subscription> {
    const g: Group = { opts, offset: 0, pumping: false, closed: false };
    const list = this.groups.get(opts.group) ?? [];
    list.push(g);
    this.groups.set(opts.group, list);
    this.pump(g);
    return {
      close: async () => {
        g.closed = true;
      },
    };
  }

  /** Messages published so far, for tests: topic and parsed event. */
  messages(): { topic: string; event: PipelineEvent }[] {
    return this.log.map((m) => ({ topic: m.topic, event: JSON.parse(m.value) as PipelineEvent }));
  }

  /** Resolves when every group has handled every message. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  async close(): Promise<void> {
    for (const list of this.groups.values()) for (const g of list) g.closed = true;
    await this.idle();
  }

  private isIdle(): boolean {
    if (this.inFlight > 0) return false;
    for (const list of this.groups.values()) for (const g of list) if (!g.closed && this.nextFor(g) !== -1) return false;
    return true;
  }

  private nextFor(g: Group): number {
    const topics = new Set(g.opts.types.map((t) => this.topicOf(t)));
    for (let i = g.offset; i < this.log.length; i++) if (topics.has(this.log[i]!.topic)) return i;
    return -1;
  }

  private pump(g: Group): void {
    if (g.pumping || g.closed) return;
    g.pumping = true;
    this.inFlight++;
    // Deliver asynchronously, as a broker would: publish never runs a handler on its own stack.
    setImmediate(() => {
      void this.drain(g).finally(() => {
        g.pumping = false;
        this.inFlight--;
        if (!g.closed && this.nextFor(g) !== -1) this.pump(g);
        else this.notifyIfIdle();
      });
    });
  }

  private async drain(g: Group): Promise<void> {
    const max = this.options.maxAttempts ?? 5;
    const delay = this.options.retryDelayMs ?? 10;
    for (let i = this.nextFor(g); i !== -1 && !g.closed; i = this.nextFor(g)) {
      const msg = this.log[i]!;
      for (let attempt = 1; ; attempt++) {
        try {
          await g.opts.handler(decodeEvent(msg.value));
          break;
        } catch (e) {
          if (attempt >= max || (e as { code?: string }).code === 'BN_ERR_EVENT_INVALID') {
            const dl: DeadLetter = {
              topic: msg.topic,
              group: g.opts.group,
              offset: i,
              errorClass: errorClassOf(e),
              message: e instanceof Error ? e.message : String(e),
              value: msg.value,
            };
            this.deadLetters.push(dl);
            this.options.onDeadLetter?.(dl);
            break;
          }
          await new Promise((r) => setTimeout(r, delay * 2 ** (attempt - 1)));
        }
      }
      // Commit only after the handler's effects are done: at-least-once.
      g.offset = i + 1;
    }
  }

  private notifyIfIdle(): void {
    if (!this.isIdle()) return;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const r of w) r();
  }
}
