import { afterAll, describe, expect, it } from 'vitest';
// Worker threads run compiled JavaScript: the pool, its worker and the tasks come from dist/
// (npm test builds first), and so does the error class they bring back.
import { BottleneckError } from '../../dist/errors/index.js';
import { callTask, InlineRunner, streamTask, taskFn, WorkerPool } from '../../dist/workers/pool.js';
import { osThreadId } from '../../dist/workers/cpu-budget.js';

const TASKS = new URL('../../dist/workers/testing/tasks.js', import.meta.url).href;

describe('WorkerPool', () => {
  const pool = new WorkerPool({ size: 1, maxOldGenerationSizeMb: 64 });
  afterAll(() => pool.close());

  it('runs a task on a worker thread and returns its value', async () => {
    expect(await pool.run<number>({ module: TASKS, fn: 'add', args: [2, 3] })).toBe(5);
  });

  it('brings a BottleneckError back with its code and location', async () => {
    const e = await pool.run({ module: TASKS, fn: 'fail', args: [] }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(BottleneckError);
    expect(e).toMatchObject({
      code: 'BN_ERR_INPUT_BAD_VALUE',
      message: 'x.xlsx, sheet "S", column "c", row 3: bad',
      location: { file: 'x.xlsx', row: 3 },
    });
  });

  it('terminates a task past its time budget, replaces the worker, and goes on', async () => {
    const e = await pool
      .run({ module: TASKS, fn: 'spin', args: [10_000], timeoutMs: 300, label: 'web.xlsx' })
      .catch((x: unknown) => x);
    expect(e).toMatchObject({
      code: 'BN_ERR_INPUT_TOO_LARGE',
      message:
        'web.xlsx: reading it took more than 300 ms of CPU time (BN_MAX_READ_MS); the file is too large or hostile',
    });
    expect(await pool.run<number>({ module: TASKS, fn: 'add', args: [1, 1] })).toBe(2);
  });

  it.runIf(osThreadId() !== undefined)(
    "counts the worker's CPU time, not wall time: a task that waits far past its budget is not stopped",
    async () => {
      // Also on a fresh worker (its thread id not known yet when the task starts).
      const fresh = new WorkerPool({ size: 1, maxOldGenerationSizeMb: 64 });
      try {
        for (const p of [pool, fresh])
          expect(
            await p.run<string>({ module: TASKS, fn: 'nap', args: [1_000], timeoutMs: 200, label: 'web.xlsx' }),
          ).toBe('rested');
      } finally {
        await fresh.close();
      }
    },
  );

  it('hands what a task sends to onMessage, in order, before its result', async () => {
    const got: unknown[] = [];
    const result = await pool.run<number>({ module: TASKS, fn: 'count', args: [1000], onMessage: (i) => got.push(i) });
    expect(result).toBe(1000);
    expect(got).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
  });

  it('abandons a task whose receiver throws, and goes on', async () => {
    const e = await pool
      .run({
        module: TASKS,
        fn: 'count',
        args: [1000],
        onMessage: (i) => {
          if (i === 10) throw new Error('sink full');
        },
      })
      .catch((x: unknown) => x);
    expect((e as Error).message).toBe('sink full');
    expect(await pool.run<number>({ module: TASKS, fn: 'add', args: [3, 3] })).toBe(6);
  });

  it('survives a task that exhausts its heap cap', async () => {
    const e = await pool.run({ module: TASKS, fn: 'hog', args: [], label: 'erp.xlsx' }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'BN_ERR_INPUT_TOO_LARGE' });
    expect((e as Error).message).toMatch(
      /^erp\.xlsx: (reading it ran out of memory|the worker reading it stopped \(exit \d+\)); the file is too large or hostile$/,
    );
    expect(await pool.run<number>({ module: TASKS, fn: 'add', args: [4, 4] })).toBe(8);
  });
});

describe('WorkerPool: one month cannot take every worker', () => {
  it('a month holds at most all but one worker: another month, queued behind it, runs at once', async () => {
    const pool = new WorkerPool({ size: 2, maxOldGenerationSizeMb: 64 });
    try {
      const gate = new Int32Array(new SharedArrayBuffer(4));
      const slow = '2044-06';
      // The slow month's two workbooks come first; the first holds its worker until released.
      const first = pool.run<string>({ module: TASKS, fn: 'held', args: [gate], group: slow });
      const second = pool.run<string>({ module: TASKS, fn: 'held', args: [gate], group: slow });
      expect(await pool.run<number>({ module: TASKS, fn: 'add', args: [1, 1], group: '2044-07' })).toBe(2);
      expect(pool.snapshot()).toEqual({ size: 2, busy: { [slow]: 1 }, queued: { [slow]: 1 } });
      Atomics.store(gate, 0, 1);
      expect(await Promise.all([first, second])).toEqual(['released', 'released']);
      expect(pool.snapshot()).toEqual({ size: 2, busy: {}, queued: {} });
    } finally {
      await pool.close();
    }
  });

  it('shares: all but one of the workers per month (a pool of one lends its only one), tasks without a month unlimited', async () => {
    const sizes = [1, 2, 3].map((size) => new WorkerPool({ size, maxOldGenerationSizeMb: 64 }));
    expect(sizes.map((p) => p.perGroup)).toEqual([1, 1, 2]);
    await Promise.all(sizes.map((p) => p.close()));
    const pool = new WorkerPool({ size: 2, maxOldGenerationSizeMb: 64 });
    try {
      const gate = new Int32Array(new SharedArrayBuffer(4));
      const both = [0, 1].map(() => pool.run<string>({ module: TASKS, fn: 'held', args: [gate] }));
      await new Promise((r) => setTimeout(r, 0));
      expect(pool.snapshot()).toEqual({ size: 2, busy: { '-': 2 }, queued: {} });
      Atomics.store(gate, 0, 1);
      await Promise.all(both);
    } finally {
      await pool.close();
    }
  });
});

describe('InlineRunner', () => {
  it('runs the same task in this thread', async () => {
    expect(await new InlineRunner().run<number>({ module: TASKS, fn: 'add', args: [2, 2] })).toBe(4);
  });

  it('hands what a task sends to onMessage too', async () => {
    const got: unknown[] = [];
    expect(
      await new InlineRunner().run<number>({ module: TASKS, fn: 'count', args: [3], onMessage: (i) => got.push(i) }),
    ).toBe(3);
    expect(got).toEqual([1, 2, 3]);
  });
});

describe('typed tasks', () => {
  const tasks = taskFn<typeof import('./testing/tasks.js')>();
  const TYPED = TASKS;

  it('call a module function by a typed reference: arguments checked, result typed', async () => {
    const add = tasks(TYPED, 'add');
    const sum: number = await callTask(new InlineRunner(), add, [20, 22]);
    expect(sum).toBe(42);
    // @ts-expect-error -- the arguments are checked against the function
    await expect(callTask(new InlineRunner(), add, ['x'])).resolves.toBe('xundefined');
  });

  it('stream a task: what it sends arrives typed, in order, before its result', async () => {
    const got: number[] = [];
    const n = await streamTask(new InlineRunner(), tasks(TYPED, 'count'), [4], (i) => {
      got.push(i);
    });
    expect({ n, got }).toEqual({ n: 4, got: [1, 2, 3, 4] });
  });
});
