import { describe, expect, it } from 'vitest';
import { BottleneckError, createError } from '../errors/index.js';
import { retryAfterOf, withRetry } from './index.js';

/** A fake sleep that records the delays instead of waiting. */
function fakeSleep() {
  const delays: number[] = [];
  return {
    delays,
    sleep: async (ms: number) => {
      delays.push(ms);
    },
  };
}

/** A function that fails with `errors` in turn, then returns 'ok'. */
function failing(...errors: unknown[]) {
  const attempts: number[] = [];
  const fn = async (attempt: number) => {
    attempts.push(attempt);
    if (attempts.length <= errors.length) throw errors[attempts.length - 1];
    return 'ok';
  };
  return { fn, attempts };
}

const flaky = () => createError('BN_ERR_STORE_IO', 'reading incoming/2026-01/erp.xlsx failed: SlowDown');

describe('withRetry', () => {
  it('with a time budget, keeps retrying a transient error past any count until the budget is spent, then says how long it tried', async () => {
    let t = 0;
    const delays: number[] = [];
    const sleep = async (ms: number) => {
      delays.push(ms);
      t += ms;
    };
    const always = async () => {
      throw flaky();
    };
    const err = await withRetry(always, {
      budgetMs: 60_000,
      initialDelayMs: 200,
      maxDelayMs: 5_000,
      sleep,
      now: () => t,
      random: () => 1,
    }).catch((e: BottleneckError) => e);
    const spent = delays.reduce((a, b) => a + b, 0);
    expect(err).toMatchObject({
      code: 'BN_ERR_RETRIES_EXHAUSTED',
      message: `gave up after ${delays.length + 1} attempts over ${Math.round(spent / 1000)} s: reading incoming/2026-01/erp.xlsx failed: SlowDown`,
    });
    expect(delays.length).toBeGreaterThan(10);
    expect(delays.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(60_000);
    expect(Math.max(...delays)).toBe(5_000);
    // Recovering within the budget returns the result.
    let n = 0;
    await expect(
      withRetry(
        async () => {
          if (n++ < 20) throw flaky();
          return 'back';
        },
        { budgetMs: 600_000, sleep: async () => {}, random: () => 0 },
      ),
    ).resolves.toBe('back');
  });

  it('returns at once when the first attempt succeeds', async () => {
    const { sleep, delays } = fakeSleep();
    const { fn, attempts } = failing();
    await expect(withRetry(fn, { sleep })).resolves.toBe('ok');
    expect(attempts).toEqual([0]);
    expect(delays).toEqual([]);
  });

  it('retries a retriable error with exponential backoff, jittered between half and all of it', async () => {
    const { sleep, delays } = fakeSleep();
    const retries: [number, number][] = [];
    const { fn, attempts } = failing(flaky(), flaky(), flaky());
    const result = await withRetry(fn, {
      sleep,
      random: () => 0.5,
      initialDelayMs: 100,
      factor: 2,
      onRetry: (_e, n, d) => retries.push([n, d]),
    });
    expect(result).toBe('ok');
    expect(attempts).toEqual([0, 1, 2, 3]);
    // base 100, 200, 400; delay = base/2 + 0.5 * base/2
    expect(delays).toEqual([75, 150, 300]);
    expect(retries).toEqual([
      [1, 75],
      [2, 150],
      [3, 300],
    ]);
  });

  it('keeps each delay between half the backoff and the backoff, capped by maxDelayMs', async () => {
    const low = fakeSleep();
    await withRetry(failing(flaky(), flaky(), flaky()).fn, {
      sleep: low.sleep,
      random: () => 0,
      initialDelayMs: 1000,
      factor: 10,
      maxDelayMs: 3000,
    });
    expect(low.delays).toEqual([500, 1500, 1500]);
    const high = fakeSleep();
    await withRetry(failing(flaky(), flaky(), flaky()).fn, {
      sleep: high.sleep,
      random: () => 0.9999,
      initialDelayMs: 1000,
      factor: 10,
      maxDelayMs: 3000,
    });
    expect(high.delays).toEqual([1000, 3000, 3000]);
  });

  it('retries a transient I/O error that carries no retriable flag', async () => {
    const { sleep } = fakeSleep();
    const { fn, attempts } = failing(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
    await expect(withRetry(fn, { sleep })).resolves.toBe('ok');
    expect(attempts).toEqual([0, 1]);
  });

  it('wraps the last error in BN_ERR_RETRIES_EXHAUSTED with the attempt count, keeping the cause', async () => {
    const { sleep, delays } = fakeSleep();
    const errors = [flaky(), flaky(), flaky()];
    const { fn, attempts } = failing(...errors);
    const err = await withRetry(fn, { sleep, retries: 2 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BottleneckError);
    expect(err).toMatchObject({
      code: 'BN_ERR_RETRIES_EXHAUSTED',
      message: 'gave up after 3 attempts: reading incoming/2026-01/erp.xlsx failed: SlowDown',
      retriable: false,
      details: { attempts: 3 },
    });
    expect((err as Error).cause).toBe(errors[2]);
    expect(attempts).toEqual([0, 1, 2]);
    expect(delays).toHaveLength(2);
  });

  it('defaults to three retries (four attempts)', async () => {
    const { sleep } = fakeSleep();
    const { fn, attempts } = failing(flaky(), flaky(), flaky(), flaky(), flaky());
    await expect(withRetry(fn, { sleep })).rejects.toMatchObject({
      code: 'BN_ERR_RETRIES_EXHAUSTED',
      details: { attempts: 4 },
    });
    expect(attempts).toEqual([0, 1, 2, 3]);
  });

  it('never retries a programmer error, even one marked retriable, and rethrows it unchanged', async () => {
    for (const e of [
      new TypeError('cannot read properties of undefined'),
      Object.assign(new RangeError('bad'), { retriable: true }),
    ]) {
      const { sleep, delays } = fakeSleep();
      const { fn, attempts } = failing(e);
      await expect(withRetry(fn, { sleep })).rejects.toBe(e);
      expect(attempts).toEqual([0]);
      expect(delays).toEqual([]);
    }
  });

  it('rethrows a non-retriable error at once, unchanged', async () => {
    for (const e of [
      createError('BN_ERR_INPUT_BAD_VALUE', 'erp.xlsx, sheet "Sheet1", column "price", row 12: bad'),
      createError('BN_ERR_STORE_IO', 'object x already exists (conditional write refused)', {
        retriable: false,
      }),
      new Error('unknown'),
      'a thrown string',
    ]) {
      const { sleep, delays } = fakeSleep();
      const { fn, attempts } = failing(e);
      await expect(withRetry(fn, { sleep })).rejects.toBe(e);
      expect(attempts).toEqual([0]);
      expect(delays).toEqual([]);
    }
  });

  it('lets shouldRetry decide instead of the error', async () => {
    const { sleep } = fakeSleep();
    const { fn, attempts } = failing(new Error('429 Too Many Requests'));
    await expect(withRetry(fn, { sleep, shouldRetry: (e) => /429/.test((e as Error).message) })).resolves.toBe('ok');
    expect(attempts).toEqual([0, 1]);
    const never = failing(flaky());
    await expect(withRetry(never.fn, { sleep, shouldRetry: () => false })).rejects.toMatchObject({
      code: 'BN_ERR_STORE_IO',
    });
  });

  it('waits for real when no sleep is given', async () => {
    const { fn, attempts } = failing(flaky());
    const t0 = performance.now();
    await expect(withRetry(fn, { initialDelayMs: 40, random: () => 0 })).resolves.toBe('ok');
    expect(attempts).toEqual([0, 1]);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(15);
  });
});

describe('withRetry and Retry-After', () => {
  const throttled = (retryAfterMs?: number) =>
    createError('BN_ERR_STORE_IO', 'HTTP 429 SlowDown', {
      retriable: true,
      details: { status: 429, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) },
    });

  it('waits at least what the server asked, then tries again', async () => {
    const slept: number[] = [];
    let n = 0;
    const got = await withRetry(
      async () => {
        if (n++ < 1) throw throttled(5_000);
        return 'ok';
      },
      { initialDelayMs: 100, sleep: async (ms) => void slept.push(ms), random: () => 0 },
    );
    expect(got).toBe('ok');
    expect(slept).toEqual([5_000]);
  });

  it('keeps its own backoff when it is longer than the Retry-After, and without one', async () => {
    const slept: number[] = [];
    let n = 0;
    await withRetry(
      async () => {
        if (n++ < 2) throw throttled(n === 1 ? 10 : undefined);
        return 'ok';
      },
      { initialDelayMs: 400, sleep: async (ms) => void slept.push(ms), random: () => 1 },
    );
    expect(slept).toEqual([400, 800]);
  });

  it('gives up at once when the Retry-After falls beyond the budget', async () => {
    const slept: number[] = [];
    let t = 0;
    await expect(
      withRetry(
        async () => {
          throw throttled(60_000);
        },
        { budgetMs: 30_000, now: () => t, sleep: async (ms) => void (slept.push(ms), (t += ms)) },
      ),
    ).rejects.toMatchObject({
      code: 'BN_ERR_RETRIES_EXHAUSTED',
      message: 'gave up after 1 attempts over 0 s: HTTP 429 SlowDown',
    });
    expect(slept).toEqual([]);
  });

  it('with a count of retries, waits a Retry-After longer than maxDelayMs, and gives up when it is longer than maxRetryAfterMs (a minute)', async () => {
    const slept: number[] = [];
    await expect(
      withRetry(
        async () => {
          throw throttled(3_600_000);
        },
        { retries: 5, maxDelayMs: 8_000, sleep: async (ms) => void slept.push(ms) },
      ),
    ).rejects.toMatchObject({
      code: 'BN_ERR_RETRIES_EXHAUSTED',
      message: 'gave up after 1 attempts: HTTP 429 SlowDown',
    });
    expect(slept).toEqual([]);
    let n = 0;
    await withRetry(
      async () => {
        if (n++ < 1) throw throttled(30_000);
        return 'ok';
      },
      { retries: 5, maxDelayMs: 8_000, sleep: async (ms) => void slept.push(ms) },
    );
    expect(slept).toEqual([30_000]);
  });

  it('reads the delay from details.retryAfterMs or the error itself, and only a number >= 0', () => {
    expect(retryAfterOf(throttled(1_500))).toBe(1_500);
    expect(retryAfterOf(Object.assign(new Error('x'), { retryAfterMs: 20 }))).toBe(20);
    expect(retryAfterOf(throttled())).toBeUndefined();
    expect(retryAfterOf(Object.assign(new Error('x'), { retryAfterMs: -1 }))).toBeUndefined();
    expect(retryAfterOf(Object.assign(new Error('x'), { retryAfterMs: '5' }))).toBeUndefined();
    expect(retryAfterOf(null)).toBeUndefined();
    expect(retryAfterOf(undefined)).toBeUndefined();
    expect(retryAfterOf('HTTP 429')).toBeUndefined();
    expect(retryAfterOf(throttled(0))).toBe(0);
    expect(retryAfterOf(throttled(Infinity))).toBeUndefined();
    expect(retryAfterOf(throttled(NaN))).toBeUndefined();
    // Details that are not an object: the error's own field.
    expect(retryAfterOf({ details: null, retryAfterMs: 5 })).toBe(5);
    expect(retryAfterOf({ details: 'HTTP 429', retryAfterMs: 5 })).toBe(5);
    expect(retryAfterOf({ details: { status: 429 }, retryAfterMs: 5 })).toBe(5);
  });

  it('waits a Retry-After of exactly maxRetryAfterMs, and gives up past it', async () => {
    const slept: number[] = [];
    let n = 0;
    await withRetry(
      async () => {
        if (n++ < 1) throw throttled(2_000);
        return 'ok';
      },
      { maxRetryAfterMs: 2_000, sleep: async (ms) => void slept.push(ms) },
    );
    expect(slept).toEqual([2_000]);
    await expect(
      withRetry(
        async () => {
          throw throttled(2_001);
        },
        { maxRetryAfterMs: 2_000, sleep: async (ms) => void slept.push(ms) },
      ),
    ).rejects.toMatchObject({ code: 'BN_ERR_RETRIES_EXHAUSTED' });
    expect(slept).toEqual([2_000]);
  });

  it('with a budget, still retries when the wait ends exactly at the budget, not past it', async () => {
    let t = 0;
    const slept: number[] = [];
    const sleep = async (ms: number) => {
      slept.push(ms);
      t += ms;
    };
    let n = 0;
    await expect(
      withRetry(
        async () => {
          if (n++ < 1) throw throttled(1_000);
          return 'ok';
        },
        { budgetMs: 1_000, now: () => t, sleep, random: () => 0, initialDelayMs: 10 },
      ),
    ).resolves.toBe('ok');
    expect(slept).toEqual([1_000]);
    t = 0;
    await expect(
      withRetry(
        async () => {
          throw throttled(1_001);
        },
        { budgetMs: 1_000, now: () => t, sleep, random: () => 0, initialDelayMs: 10 },
      ),
    ).rejects.toMatchObject({ code: 'BN_ERR_RETRIES_EXHAUSTED' });
    expect(slept).toEqual([1_000]);
  });
});
