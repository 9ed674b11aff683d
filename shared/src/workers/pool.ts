import { Worker } from 'node:worker_threads';
import { BottleneckError, createError, isErrorCode, withDetails, type ErrorDetails } from '../errors/index.js';
import { CpuBudget, threadCpuMs } from './cpu-budget.js';

/** A call to run off the main thread: an exported function of a module, with structured-clonable arguments. */
export interface Task {
  /** Absolute file URL of the module (`new URL('./x.js', import.meta.url).href`). */
  module: string;
  fn: string;
  args: unknown[];
  /**
   * The worker is terminated (and replaced) when the task has used this much of its thread's CPU
   * time (ms; wall time where the thread's CPU time cannot be read): a task waiting, or a worker
   * starved of CPU by a loaded machine, is not stopped.
   */
  timeoutMs?: number | undefined;
  /** Names the file in the error when the worker dies (out of memory, timeout). */
  label?: string | undefined;
  /**
   * Who the task works for (the month): a group holds at most `perGroup` workers at once, so one
   * month's slow or hostile workbook cannot take every worker from the other months.
   */
  group?: string | undefined;
  /**
   * Receives what the function sends as it goes: it is called with a `send(data)` function as its
   * last argument, whose data arrive here in order, all before the task's result.
   */
  onMessage?: (data: unknown) => void;
}

/** How a task runs: the limits and the name it reports under. */
export type TaskOptions = Pick<Task, 'timeoutMs' | 'label' | 'group'>;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any function's parameters, checked at the call
type AnyAsyncFn = (...args: any[]) => Promise<unknown>;

/**
 * A typed reference to an exported async function of a module that runs on a worker thread: made by
 * `taskFn<typeof import('./m.js')>()(url, 'name')`, which checks at compile time that the module
 * exports that function (the `typeof import` costs nothing at run time), so that `callTask` and
 * `streamTask` check the arguments and type the result.
 */
export interface TaskFn<F extends AnyAsyncFn> {
  readonly module: string;
  readonly fn: string;
  /** Carries F for the type checker only; never set. */
  readonly signature?: F;
}

/** `taskFn<typeof import('./report.js')>()(REPORT_URL, 'writeRevenueReport')`. */
export function taskFn<M>() {
  return <K extends keyof M & string>(module: string, fn: K): TaskFn<M[K] extends AnyAsyncFn ? M[K] : never> => ({
    module,
    fn,
  });
}

/** Runs a typed task: its arguments are checked against the function, its result typed. */
export function callTask<F extends AnyAsyncFn>(
  runner: TaskRunner,
  ref: TaskFn<F>,
  args: Parameters<F>,
  opts: TaskOptions = {},
): Promise<Awaited<ReturnType<F>>> {
  return runner.run<Awaited<ReturnType<F>>>({ module: ref.module, fn: ref.fn, args, ...opts });
}

/**
 * Runs a typed task whose function takes `send` as its last parameter: what it sends reaches
 * `onMessage`, typed, in order, before the result.
 */
export function streamTask<A extends unknown[], S, R>(
  runner: TaskRunner,
  ref: TaskFn<(...a: [...A, (sent: S) => void]) => Promise<R>>,
  args: A,
  onMessage: (sent: S) => void,
  opts: TaskOptions = {},
): Promise<R> {
  return runner.run<R>({
    module: ref.module,
    fn: ref.fn,
    args,
    onMessage: (m) => {
      onMessage(m as S);
    },
    ...opts,
  });
}

/** Workers busy and tasks queued per group (the month; `-` for tasks without one). */
export interface WorkersSnapshot {
  size: number;
  busy: Record<string, number>;
  queued: Record<string, number>;
}

/** Runs tasks, on worker threads or in this thread. Call it through `callTask` / `streamTask`. */
export interface TaskRunner {
  /** Worker threads that run tasks (0: they run in this thread; their arguments and results are copied otherwise). */
  readonly threads: number;
  /** Worker threads the tasks of one group (a month) may hold at once (0 when tasks run in this thread). */
  readonly perGroup: number;
  /** What the workers are doing (a service's /status), when there are workers. */
  snapshot?(): WorkersSnapshot;
  run<T>(task: Task): Promise<T>;
  close(): Promise<void>;
}

export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  retriable?: boolean;
  location?: Record<string, unknown>;
  asset?: string;
  stage?: string;
  details?: ErrorDetails;
  stack?: string;
}

export function serializeError(e: unknown): SerializedError {
  if (e instanceof BottleneckError) {
    return {
      name: e.name,
      message: e.message,
      code: e.code,
      retriable: e.retriable,
      ...(e.location ? { location: { ...e.location } } : {}),
      ...(e.asset ? { asset: e.asset } : {}),
      ...(e.stage ? { stage: e.stage } : {}),
      ...(e.details ? { details: e.details } : {}),
    };
  }
  const err = e instanceof Error ? e : new Error(String(e));
  return {
    name: err.name,
    message: err.message,
    ...(err.stack ? { stack: err.stack } : {}),
    ...((err as { code?: string }).code ? { code: (err as { code?: string }).code } : {}),
  };
}

export function deserializeError(s: SerializedError): Error {
  if (s.name === 'BottleneckError' && s.code && isErrorCode(s.code)) {
    const e = createError(s.code, s.message, {
      ...(s.retriable !== undefined ? { retriable: s.retriable } : {}),
      ...(s.location ? { location: s.location } : {}),
      ...(s.asset ? { asset: s.asset } : {}),
      ...(s.stage ? { stage: s.stage } : {}),
    });
    // The same error the worker made, details and all (they were typed by its code there).
    return s.details ? withDetails(e, { details: s.details }) : e;
  }
  const e = new Error(s.message);
  e.name = s.name;
  if (s.stack) e.stack = s.stack;
  if (s.code) (e as { code?: string }).code = s.code;
  return e;
}

/** Runs tasks in this thread: the fallback, and what tests use. */
export class InlineRunner implements TaskRunner {
  readonly threads = 0;
  readonly perGroup = 0;
  async run<T>(task: Task): Promise<T> {
    const mod = (await import(task.module)) as Record<string, (...a: unknown[]) => Promise<T>>;
    const f = mod[task.fn];
    if (typeof f !== 'function') throw new TypeError(`${task.module} has no function ${task.fn}`);
    return task.onMessage ? f(...task.args, task.onMessage) : f(...task.args);
  }
  async close(): Promise<void> {}
}

interface Slot {
  worker: Worker;
  /**
   * The worker's OS thread id (Linux), by which its CPU time is read: undefined until the worker has
   * said it, null when it has none.
   */
  tid?: number | null | undefined;
  busy: boolean;
  /** The group of the task it runs. */
  group?: string | undefined;
}

interface Pending {
  task: Task;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

export interface WorkerPoolOptions {
  size: number;
  /** Heap cap of each worker: a hostile workbook exhausts a worker, not the process. */
  maxOldGenerationSizeMb?: number;
  /** Modules each worker imports as it starts, so their cost overlaps the main thread's start. */
  preload?: string[];
}

const WORKER_URL = new URL('./worker.js', import.meta.url);

/**
 * A small pool of worker threads. Parsing the workbooks is the costly part of a run: on worker
 * threads the three files parse on both cores while the main thread starts DuckDB, and a workbook
 * that exhausts memory or time kills its worker (which is replaced), never the process.
 *
 * Tasks of one group (a month) hold at most `size - 1` workers at once (all of them in a pool of
 * one): one worker always stays for the other months, so a month whose workbook takes minutes to
 * parse delays only itself. A queued task whose group is at its share waits; the tasks of other
 * groups behind it go first. Tasks without a group are not limited.
 */
export class WorkerPool implements TaskRunner {
  get threads(): number {
    return this.opts.size;
  }
  get perGroup(): number {
    return Math.max(1, this.opts.size - 1);
  }
  /** What the pool is doing: workers busy, and queued tasks, per group (a service's status page). */
  snapshot(): WorkersSnapshot {
    const count = (groups: (string | undefined)[]) =>
      groups.reduce<Record<string, number>>((n, g) => ({ ...n, [g ?? '-']: (n[g ?? '-'] ?? 0) + 1 }), {});
    return {
      size: this.opts.size,
      busy: count(this.slots.filter((x) => x.busy).map((x) => x.group)),
      queued: count(this.queue.map((q) => q.task.group)),
    };
  }
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private seq = 0;
  private closed = false;

  constructor(private readonly opts: WorkerPoolOptions) {
    for (let i = 0; i < opts.size; i++) this.slots.push(this.spawn());
  }

  private spawn(): Slot {
    const worker = new Worker(WORKER_URL, {
      workerData: { preload: this.opts.preload ?? [] },
      resourceLimits: { maxOldGenerationSizeMb: this.opts.maxOldGenerationSizeMb ?? 1024 },
      stdout: false,
      stderr: false,
    });
    worker.unref();
    const slot: Slot = { worker, busy: false };
    const onTid = (m: unknown) => {
      if (m && typeof m === 'object' && 'tid' in m) {
        slot.tid = typeof m.tid === 'number' ? m.tid : null;
        worker.off('message', onTid);
      }
    };
    worker.on('message', onTid);
    return slot;
  }

  run<T>(task: Task): Promise<T> {
    if (this.closed) return Promise.reject(new Error('worker pool is closed'));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ task, resolve: resolve as (v: unknown) => void, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (slot.busy) continue;
      const i = this.queue.findIndex((q) => q.task.group === undefined || this.held(q.task.group) < this.perGroup);
      if (i < 0) return;
      const [next] = this.queue.splice(i, 1);
      if (next) this.execute(slot, next);
    }
  }

  /** Workers running a task of this group. */
  private held(group: string): number {
    return this.slots.reduce((n, x) => n + (x.busy && x.group === group ? 1 : 0), 0);
  }

  private execute(slot: Slot, p: Pending): void {
    slot.busy = true;
    slot.group = p.task.group;
    const id = ++this.seq;
    const w = slot.worker;
    w.ref();
    let timer: NodeJS.Timeout | undefined;
    const finish = (replace: boolean) => {
      clearTimeout(timer);
      w.off('message', onMessage);
      w.off('error', onError);
      w.off('exit', onExit);
      if (replace) {
        void w.terminate();
        const i = this.slots.indexOf(slot);
        if (i >= 0 && !this.closed) this.slots[i] = this.spawn();
      } else {
        w.unref();
        slot.busy = false;
        slot.group = undefined;
      }
      this.dispatch();
    };
    const died = (why: string) =>
      createError(
        'BN_ERR_INPUT_TOO_LARGE',
        `${p.task.label ?? p.task.fn}: ${why}; the file is too large or hostile`,
        p.task.label ? { location: { file: p.task.label } } : {},
      );
    const onMessage = (m: { id: number; ok: boolean; value?: unknown; error?: SerializedError; sent?: unknown }) => {
      if (m.id !== id) return;
      if ('sent' in m) {
        try {
          p.task.onMessage?.(m.sent);
        } catch (e) {
          // The receiver failed: the task is abandoned (its worker replaced), the error reported.
          finish(true);
          p.reject(e);
        }
        return;
      }
      finish(false);
      if (m.ok) p.resolve(m.value);
      else p.reject(m.error ? deserializeError(m.error) : new Error(`${p.task.fn} failed without an error`));
    };
    const onError = (e: Error) => {
      finish(true);
      const oom = /heap|memory/i.test(e.message) || (e as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY';
      p.reject(oom ? died('reading it ran out of memory') : e);
    };
    const onExit = (code: number) => {
      finish(true);
      p.reject(died(`the worker reading it stopped (exit ${code})`));
    };
    w.on('message', onMessage);
    w.on('error', onError);
    w.on('exit', onExit);
    if (p.task.timeoutMs !== undefined && p.task.timeoutMs > 0) {
      // The worker's CPU time, read from here (a worker spinning on a hostile workbook answers nothing).
      // A worker that has not said its thread id yet is starting: its CPU time so far is about nil.
      const budget = new CpuBudget(
        p.task.timeoutMs,
        {
          now: Date.now,
          cpu: () => (typeof slot.tid === 'number' ? threadCpuMs(slot.tid) : null),
        },
        slot.tid === undefined ? 0 : undefined,
      );
      const check = () => {
        if (budget.spent()) {
          finish(true);
          p.reject(died(`reading it took more than ${p.task.timeoutMs} ms of CPU time (BN_MAX_READ_MS)`));
        } else timer = setTimeout(check, budget.nextCheckInMs());
      };
      timer = setTimeout(check, budget.nextCheckInMs());
    }
    w.postMessage({ id, module: p.task.module, fn: p.task.fn, args: p.task.args, streams: Boolean(p.task.onMessage) });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const q of this.queue.splice(0)) q.reject(new Error('worker pool closed'));
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
