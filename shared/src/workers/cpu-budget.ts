/**
 * The time limit of reading a workbook (BN_MAX_READ_MS), counted in CPU time of the thread that
 * reads it, not in wall time: a hostile workbook (a zip bomb, an endless sheet) can only cost CPU,
 * while a process starved of CPU on a loaded machine (other services, other months) takes minutes
 * of wall time over a few milliseconds of work, and must not call a valid file hostile.
 *
 * The thread's CPU time comes from Linux's /proc (`/proc/thread-self/stat`, or
 * `/proc/self/task/<tid>/stat` for another thread of this process: user + system, in clock ticks of
 * 10 ms), or Node's `process.threadCpuUsage` where it exists. Where neither can be read (not Linux),
 * the limit is wall time, as before.
 *
 * Reading /proc is a system call, so it is only made once the wall time has reached the limit (the
 * CPU time cannot be more than the wall time): a read that ends within the limit never pays for it.
 */
import { readFileSync, readlinkSync } from 'node:fs';

/** USER_HZ: Linux reports a thread's CPU time in /proc in ticks of 1/100 s on every architecture. */
const TICK_MS = 10;

/** A thread's user + system CPU time from its /proc stat line, ms; null when unreadable. */
export function parseStatCpuMs(stat: string): number | null {
  // pid (comm) state ppid ... : the command may hold spaces and parentheses, so fields are counted
  // from the last ')'. utime and stime are fields 14 and 15 of the line, the 12th and 13th after it.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  return Number.isFinite(utime) && Number.isFinite(stime) ? (utime + stime) * TICK_MS : null;
}

type ThreadCpuUsage = () => { user: number; system: number };

/**
 * CPU time (user + system) of a thread of this process so far, ms: the calling thread's, or, given
 * its OS thread id (`osThreadId()` on that thread), another thread's. Null where it cannot be read.
 */
export function threadCpuMs(tid?: number): number | null {
  const own = (process as { threadCpuUsage?: ThreadCpuUsage }).threadCpuUsage;
  if (tid === undefined && typeof own === 'function') {
    const u = own.call(process);
    return (u.user + u.system) / 1000;
  }
  try {
    return parseStatCpuMs(
      readFileSync(tid === undefined ? '/proc/thread-self/stat' : `/proc/self/task/${tid}/stat`, 'utf8'),
    );
  } catch {
    return null;
  }
}

/** The calling thread's OS thread id (Linux), for another thread to read its CPU time; undefined elsewhere. */
export function osThreadId(): number | undefined {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(tid) && tid > 0 ? tid : undefined;
  } catch {
    return undefined;
  }
}

/** The clocks a budget reads (the real ones by default; tests give their own). */
export interface BudgetClocks {
  /** Wall time, ms. */
  now(): number;
  /** CPU time of the thread the budget is about, ms; null when it cannot be read. */
  cpu(): number | null;
}

/**
 * A budget of `limitMs` of a thread's CPU time from now. `spent()` says whether it is used up;
 * `nextCheckInMs()` how long (wall) before it can be, for a timer.
 */
export class CpuBudget {
  private readonly wall0: number;
  private readonly cpu0: number | null;
  /** Wall time before which the budget cannot be spent (CPU time never runs faster than the wall). */
  private checkAt: number;

  /** `cpuFrom`: the thread's CPU time the budget counts from, when it cannot be read yet (a thread starting: 0). */
  constructor(
    readonly limitMs: number,
    private readonly clocks: BudgetClocks = { now: Date.now, cpu: () => threadCpuMs() },
    cpuFrom?: number,
  ) {
    this.wall0 = clocks.now();
    this.cpu0 = cpuFrom ?? clocks.cpu();
    this.checkAt = this.wall0 + limitMs;
  }

  /** Whether the thread has used `limitMs` of CPU since the budget started (of wall time, where CPU time cannot be read). */
  spent(): boolean {
    const t = this.clocks.now();
    if (t < this.checkAt) return false;
    const cpu = this.cpu0 === null ? null : this.clocks.cpu();
    if (this.cpu0 === null || cpu === null) return true;
    const used = cpu - this.cpu0;
    if (used >= this.limitMs) return true;
    this.checkAt = t + (this.limitMs - used);
    return false;
  }

  /** Wall time until `spent()` can first be true, ms (0: ask now). */
  nextCheckInMs(): number {
    return Math.max(0, this.checkAt - this.clocks.now());
  }
}
