import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { CpuBudget, osThreadId, parseStatCpuMs, threadCpuMs } from './cpu-budget.js';

/** Clocks a test moves by hand: wall and CPU time apart, as on a machine that starves the thread. */
function clocks(cpu: number | null = 0) {
  const c = { wall: 1_000, cpu, now: () => c.wall, read: () => c.cpu };
  return c;
}

describe('CpuBudget', () => {
  it('is not spent by wall time alone: a thread starved of CPU keeps its budget', () => {
    const c = clocks();
    const b = new CpuBudget(100, { now: c.now, cpu: c.read });
    c.wall += 10_000;
    c.cpu! += 5;
    expect(b.spent()).toBe(false);
    // The earliest it can be spent: the CPU time left, in wall time.
    expect(b.nextCheckInMs()).toBe(95);
    c.wall += 95;
    c.cpu! += 94;
    expect(b.spent()).toBe(false);
    c.wall += 1;
    c.cpu! += 1;
    expect(b.spent()).toBe(true);
  });

  it('does not read the CPU clock before the wall time reaches the limit (CPU time cannot be more)', () => {
    const c = clocks();
    let reads = 0;
    const b = new CpuBudget(100, {
      now: c.now,
      cpu: () => {
        reads++;
        return c.cpu;
      },
    });
    c.wall += 99;
    expect(b.spent()).toBe(false);
    expect(reads).toBe(1);
    c.wall += 1;
    c.cpu = 100;
    expect(b.spent()).toBe(true);
    expect(reads).toBe(2);
  });

  it('is wall time where the CPU time cannot be read', () => {
    const c = clocks(null);
    const b = new CpuBudget(100, { now: c.now, cpu: c.read });
    c.wall += 99;
    expect(b.spent()).toBe(false);
    c.wall += 1;
    expect(b.spent()).toBe(true);
  });

  it('counts from the CPU time given when the thread cannot be read yet (a worker starting)', () => {
    const c = clocks(null);
    const b = new CpuBudget(100, { now: c.now, cpu: c.read }, 0);
    c.wall += 500;
    c.cpu = 60;
    expect(b.spent()).toBe(false);
    c.wall += 40;
    c.cpu = 100;
    expect(b.spent()).toBe(true);
  });

  it('a limit of 0 is spent at once', () => {
    const c = clocks();
    expect(new CpuBudget(0, { now: c.now, cpu: c.read }).spent()).toBe(true);
  });
});

describe('a thread’s CPU time', () => {
  it('is read from its /proc stat line: user + system ticks of 10 ms, whatever the command holds', () => {
    const fields = (comm: string) =>
      `4242 (${comm}) R 1 4242 4242 0 -1 4194304 1000 0 0 0 123 45 0 0 20 0 7 0 100 1000000 5000`;
    expect(parseStatCpuMs(fields('node'))).toBe(1680);
    expect(parseStatCpuMs(fields('a) b (c'))).toBe(1680);
    expect(parseStatCpuMs('garbage')).toBeNull();
  });

  it.runIf(threadCpuMs() !== null)('grows while the thread works, not while it waits', async () => {
    const before = threadCpuMs()!;
    await new Promise((r) => setTimeout(r, 300));
    const waited = threadCpuMs()! - before;
    expect(waited).toBeLessThan(100);
    // Work until the clock has moved by 50 ms of CPU: a condition, not a wall-clock wait.
    let x = 0;
    while (threadCpuMs()! - before < waited + 50) for (let i = 0; i < 100_000; i++) x += i;
    expect(x).toBeGreaterThan(0);
  });

  it.runIf(osThreadId() !== undefined)(
    "of another thread is read by its id: a worker's spin counts there, not here",
    async () => {
      const w = new Worker(
        `const { parentPort } = require('node:worker_threads');
       const { readFileSync, readlinkSync } = require('node:fs');
       const cpu = () => readFileSync('/proc/thread-self/stat', 'utf8').split(')')[1].trim().split(' ').slice(11, 13).reduce((a, b) => a + Number(b) * 10, 0);
       parentPort.postMessage(Number(readlinkSync('/proc/thread-self').split('/').pop()));
       parentPort.on('message', () => { const c0 = cpu(); while (cpu() - c0 < 100); parentPort.postMessage('done'); });`,
        { eval: true },
      );
      try {
        const tid = await new Promise<number>((r) => w.once('message', r));
        expect(tid).not.toBe(osThreadId());
        const theirs = threadCpuMs(tid)!;
        const mine = threadCpuMs()!;
        w.postMessage('spin');
        await new Promise((r) => w.once('message', r));
        // It spun until its own clock had moved by 100 ms: seen from here by its id; this thread waited.
        expect(threadCpuMs(tid)! - theirs).toBeGreaterThanOrEqual(100);
        expect(threadCpuMs()! - mine).toBeLessThan(100);
      } finally {
        await w.terminate();
      }
    },
  );
});
