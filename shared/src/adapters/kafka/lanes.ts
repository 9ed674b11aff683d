/**
 * Per-month lanes inside a partition. A consumer hands each message to the lane of its key (the
 * month): one month's events run one after the other, in offset order, while other months of the
 * same partition go on beside it, up to `capacity` months at once. The offsets of a partition are
 * committed up to its lowest message not handled yet, so a crash redelivers every message not
 * handled (at-least-once, as before), and nothing after it is lost.
 */

/** What a partition's offsets look like now (a service's /status, the stuck-lane warning). */
export interface PartitionOffsetsState {
  /** Offsets handed to lanes and not handled yet, lowest first (at most 20 listed). */
  inFlight: string[];
  /** How many offsets are in flight in all. */
  inFlightCount: number;
  /** Since when the lowest one is in flight, ms (0 when none is): what holds the commit point. */
  oldestInFlightMs: number;
  /** The lowest offset not handled yet, or one past the highest handed out: what the next commit carries. */
  commitPoint: string;
  /** One past the highest offset handed out (-1 before any). */
  next: string;
}

/** The offsets of one partition handed to lanes and not handled yet; the commit point is the lowest of them. */
export class PartitionOffsets {
  /** Offset -> copies in flight (a rebalance may deliver an offset again while its first copy runs). */
  private readonly pending = new Map<bigint, number>();
  /** Offset -> when its first copy in flight was handed out (ms). */
  private readonly since = new Map<bigint, number>();
  /** One past the highest offset handed out. */
  private next = -1n;
  private committed = -1n;

  constructor(private readonly now: () => number = Date.now) {}

  dispatched(offset: bigint): void {
    this.pending.set(offset, (this.pending.get(offset) ?? 0) + 1);
    if (!this.since.has(offset)) this.since.set(offset, this.now());
    // The first offset fetched is where the group's commit stood: nothing to commit below it. An
    // offset below what was committed here comes again after kafkajs restarted its consumer or
    // rejoined (it fetches from the group's commit): a commit made meanwhile may not have reached
    // the group (kafkajs drops a commit while its consumer restarts, without an error), so the
    // commit point counts from there again. Without this the partition's commit stayed behind,
    // its last messages handled but never committed, until another message came.
    if (this.committed < 0n || offset < this.committed) this.committed = offset;
    if (offset + 1n > this.next) this.next = offset + 1n;
  }

  /** Marks one copy of an offset handled; returns the offset to commit now, or undefined when the commit point did not move. */
  handled(offset: bigint): bigint | undefined {
    const n = this.pending.get(offset);
    if (n === undefined) return undefined;
    if (n > 1) this.pending.set(offset, n - 1);
    else {
      this.pending.delete(offset);
      this.since.delete(offset);
    }
    const point = this.commitPoint();
    if (point <= this.committed) return undefined;
    this.committed = point;
    return point;
  }

  /** The offsets in flight, the commit point, and how long the lowest in flight has been there. */
  state(): PartitionOffsetsState {
    const inFlight = [...this.pending.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const oldest = inFlight[0];
    return {
      inFlight: inFlight.slice(0, 20).map(String),
      inFlightCount: inFlight.length,
      oldestInFlightMs: oldest === undefined ? 0 : this.now() - (this.since.get(oldest) ?? this.now()),
      commitPoint: this.commitPoint().toString(),
      next: this.next.toString(),
    };
  }

  /** The lowest offset not handled yet, or one past the highest handed out when all are. */
  commitPoint(): bigint {
    let min: bigint | undefined;
    for (const o of this.pending.keys()) if (min === undefined || o < min) min = o;
    return min ?? this.next;
  }
}

/**
 * Lanes keyed by month: tasks of one key run in order, tasks of different keys at once, at most
 * `capacity` keys at a time. A further key's tasks wait, in arrival order, for a lane to free up;
 * `enqueue` itself never waits, so the caller (a partition's fetch loop, inside kafkajs's runner)
 * is never held by a slow month: kafkajs can always finish its batch and rejoin its group.
 */
export class MonthLanes {
  /** The tail of each key's chain: a key is in flight (holding a lane or waiting for one) while it has one. */
  private readonly tails = new Map<string, Promise<void>>();
  /** Keys holding a lane. */
  private readonly holding = new Set<string>();
  /** Keys waiting for a lane, first come first served. */
  private readonly queue: { key: string; start: () => void }[] = [];

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`lanes: capacity must be >= 1, got ${capacity}`);
  }

  /** Keys (months) in flight: holding a lane or waiting for one. */
  get busy(): number {
    return this.tails.size;
  }

  /** The keys (months) holding a lane, and how many more wait for one. */
  state(): { months: string[]; waiting: number } {
    return { months: [...this.holding].sort(), waiting: this.queue.length };
  }

  /**
   * Queues `task` after the earlier tasks of its key and returns at once. The key's first task
   * starts when the key gets a lane (at once when one is free). The task must not throw; a throw is
   * dropped.
   */
  async enqueue(key: string, task: () => Promise<void>): Promise<void> {
    const tail = this.tails.get(key) ?? this.acquire(key);
    const mine = tail.then(() => task().catch(() => {}));
    this.tails.set(key, mine);
    void mine.then(() => {
      if (this.tails.get(key) !== mine) return;
      this.tails.delete(key);
      this.holding.delete(key);
      const next = this.queue.shift();
      if (next) {
        this.holding.add(next.key);
        next.start();
      }
    });
  }

  private acquire(key: string): Promise<void> {
    if (this.holding.size < this.capacity) {
      this.holding.add(key);
      return Promise.resolve();
    }
    return new Promise((start) => this.queue.push({ key, start }));
  }
}
