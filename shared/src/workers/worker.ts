import { parentPort, workerData } from 'node:worker_threads';
import { osThreadId } from './cpu-budget.js';
import { serializeError } from './pool.js';

if (!parentPort) throw new Error('worker.js runs as a worker thread of the pool');
const port = parentPort;

// The pool's time limit counts this thread's CPU time: it reads it from /proc by this id.
port.postMessage({ tid: osThreadId() });

// Import what the tasks need right away: this overlaps the main thread's own start.
const wanted = (workerData as { preload?: string[] } | null)?.preload ?? [];
const preload = Promise.all(wanted.map((m) => import(m).catch(() => undefined)));

type TaskMessage = { id: number; module: string; fn: string; args: unknown[]; streams?: boolean };

async function runTask(m: TaskMessage): Promise<void> {
  try {
    await preload;
    const mod = (await import(m.module)) as Record<string, unknown>;
    const f = mod[m.fn];
    if (typeof f !== 'function') throw new TypeError(`${m.module} has no function ${m.fn}`);
    const send = (sent: unknown) => {
      port.postMessage({ id: m.id, sent });
    };
    const call = f as (...a: unknown[]) => Promise<unknown>;
    port.postMessage({ id: m.id, ok: true, value: await (m.streams ? call(...m.args, send) : call(...m.args)) });
  } catch (e) {
    port.postMessage({ id: m.id, ok: false, error: serializeError(e) });
  }
}

port.on('message', (m: TaskMessage) => void runTask(m));
