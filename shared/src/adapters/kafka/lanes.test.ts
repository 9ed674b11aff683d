import { describe, expect, it } from 'vitest';
import { MonthLanes, PartitionOffsets } from './lanes.js';

const gate = () => {
  let open!: () => void;
  const p = new Promise<void>((r) => {
    open = r;
  });
  return { p, open };
};
const tick = () => new Promise((r) => setImmediate(r));

describe('PartitionOffsets', () => {
  it('commits up to the lowest offset not handled yet', () => {
    const o = new PartitionOffsets();
    for (const x of [5n, 6n, 7n]) o.dispatched(x);
    expect(o.handled(6n)).toBeUndefined(); // 5 still runs: nothing to commit
    expect(o.handled(7n)).toBeUndefined();
    expect(o.handled(5n)).toBe(8n); // all handled: one past the highest
    o.dispatched(8n);
    o.dispatched(9n);
    expect(o.handled(8n)).toBe(9n);
    expect(o.commitPoint()).toBe(9n);
  });

  it('an offset delivered twice (a rebalance) holds the commit point until both copies are handled', () => {
    const o = new PartitionOffsets();
    o.dispatched(1n);
    o.dispatched(2n);
    o.dispatched(1n);
    expect(o.handled(1n)).toBeUndefined();
    expect(o.handled(2n)).toBeUndefined();
    expect(o.handled(1n)).toBe(3n);
    expect(o.handled(1n)).toBeUndefined(); // not pending any more
  });
});

describe("PartitionOffsets after kafkajs fetched a partition again from the group's commit", () => {
  it('commits again what it had committed, when a commit may not have reached the group (the consumer restarted meanwhile)', () => {
    const o = new PartitionOffsets();
    o.dispatched(3n);
    o.dispatched(4n);
    expect(o.handled(3n)).toBe(4n);
    expect(o.handled(4n)).toBe(5n); // this commit was lost: kafkajs's consumer was restarting
    // kafkajs restarts from the group's commit, 3: both come again, are handled (as copies), and committed.
    o.dispatched(3n);
    o.dispatched(4n);
    expect(o.handled(3n)).toBe(4n);
    expect(o.handled(4n)).toBe(5n);
    expect(o.state()).toMatchObject({ inFlight: [], commitPoint: '5' });
  });
});

describe('PartitionOffsets.state: what holds the commit point, and since when', () => {
  it('lists the offsets in flight lowest first, the commit point, and the age of the lowest', () => {
    let t = 1_000;
    const o = new PartitionOffsets(() => t);
    expect(o.state()).toEqual({ inFlight: [], inFlightCount: 0, oldestInFlightMs: 0, commitPoint: '-1', next: '-1' });
    o.dispatched(7n);
    t = 5_000;
    o.dispatched(9n);
    o.dispatched(8n);
    t = 65_000;
    expect(o.state()).toEqual({
      inFlight: ['7', '8', '9'],
      inFlightCount: 3,
      oldestInFlightMs: 64_000,
      commitPoint: '7',
      next: '10',
    });
    o.handled(7n);
    // 8 is now the lowest: its own age (handed out at 5 s), not 7's.
    expect(o.state()).toMatchObject({ inFlight: ['8', '9'], oldestInFlightMs: 60_000, commitPoint: '8' });
    o.handled(9n);
    o.handled(8n);
    expect(o.state()).toEqual({ inFlight: [], inFlightCount: 0, oldestInFlightMs: 0, commitPoint: '10', next: '10' });
  });

  it('an offset delivered again keeps its first time until its every copy is handled', () => {
    let t = 0;
    const o = new PartitionOffsets(() => t);
    o.dispatched(1n);
    t = 10;
    o.dispatched(1n);
    t = 30;
    expect(o.state().oldestInFlightMs).toBe(30);
    o.handled(1n);
    expect(o.state().oldestInFlightMs).toBe(30);
    o.handled(1n);
    expect(o.state().inFlight).toEqual([]);
  });
});

describe('MonthLanes', () => {
  it('reports the months holding a lane and the months waiting for one', async () => {
    const lanes = new MonthLanes(1);
    const slow = gate();
    await lanes.enqueue('2031-02', () => slow.p);
    const ran = gate();
    await lanes.enqueue('2031-01', async () => ran.open());
    await tick();
    expect(lanes.state()).toEqual({ months: ['2031-02'], waiting: 1 });
    slow.open();
    await ran.p;
    await tick();
    await tick();
    expect(lanes.state()).toEqual({ months: [], waiting: 0 });
  });

  it('runs one month in order and other months beside it', async () => {
    const lanes = new MonthLanes(4);
    const log: string[] = [];
    const slow = gate();
    await lanes.enqueue('2031-01', async () => {
      log.push('a1 start');
      await slow.p;
      log.push('a1 end');
    });
    await lanes.enqueue('2031-01', async () => {
      log.push('a2');
    });
    await lanes.enqueue('2031-02', async () => {
      log.push('b1');
    });
    await tick();
    expect(log).toEqual(['a1 start', 'b1']);
    slow.open();
    await tick();
    await tick();
    expect(log).toEqual(['a1 start', 'b1', 'a1 end', 'a2']);
  });

  it('at capacity a new month waits for a lane (enqueue itself returns at once); a month in flight is still queued at once', async () => {
    const lanes = new MonthLanes(1);
    const slow = gate();
    const log: string[] = [];
    await lanes.enqueue('a', async () => {
      await slow.p;
      log.push('a1');
    });
    // Returns at once although every lane is held: the caller (kafkajs's batch) is never held.
    await lanes.enqueue('b', async () => {
      log.push('b1');
    });
    await lanes.enqueue('a', async () => {
      log.push('a2');
    });
    await tick();
    expect(log).toEqual([]);
    expect(lanes.busy).toBe(2);
    expect(lanes.state()).toEqual({ months: ['a'], waiting: 1 });
    slow.open();
    await tick();
    await tick();
    await tick();
    expect(log).toEqual(['a1', 'a2', 'b1']);
    await tick();
    expect(lanes.busy).toBe(0);
    expect(lanes.state()).toEqual({ months: [], waiting: 0 });
  });

  it('months waiting for a lane get one in the order they came', async () => {
    const lanes = new MonthLanes(1);
    const slow = gate();
    const log: string[] = [];
    await lanes.enqueue('a', () => slow.p);
    for (const k of ['c', 'b', 'd'])
      await lanes.enqueue(k, async () => {
        log.push(k);
      });
    slow.open();
    for (let i = 0; i < 10; i++) await tick();
    expect(log).toEqual(['c', 'b', 'd']);
  });

  it('a task that throws frees its lane', async () => {
    const lanes = new MonthLanes(1);
    await lanes.enqueue('a', () => Promise.reject(new Error('boom')));
    await lanes.enqueue('b', async () => {});
    await tick();
    expect(lanes.busy).toBe(0);
  });
});
