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

describe('MonthLanes', () => {
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

  it('at capacity a new month waits for a lane; a month in flight is still queued at once', async () => {
    const lanes = new MonthLanes(1);
    const slow = gate();
    const log: string[] = [];
    await lanes.enqueue('a', async () => {
      await slow.p;
      log.push('a1');
    });
    let queued = false;
    const b = lanes
      .enqueue('b', async () => {
        log.push('b1');
      })
      .then(() => {
        queued = true;
      });
    await lanes.enqueue('a', async () => {
      log.push('a2');
    });
    await tick();
    expect(queued).toBe(false);
    expect(lanes.busy).toBe(1);
    slow.open();
    await b;
    await tick();
    expect(log).toEqual(['a1', 'a2', 'b1']);
    await tick();
    expect(lanes.busy).toBe(0);
  });

  it('a task that throws frees its lane', async () => {
    const lanes = new MonthLanes(1);
    await lanes.enqueue('a', () => Promise.reject(new Error('boom')));
    await lanes.enqueue('b', async () => {});
    await tick();
    expect(lanes.busy).toBe(0);
  });
});
