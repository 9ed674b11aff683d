import { parentPort, workerData } from 'node:worker_threads';
import { serializeError } from './pool.js';

// Import what the tasks need right away: this overlaps the main thread's own start.
const preload = Promise.all(((workerData as { preload?: string[] })?.preload ?? []).map((m) => import(m).catch(() => undefined)));

parentPort!.on('message', async (m: { id: number; module: string; fn: string; args: unknown[]; streams?: boolean }) => {
  try {
    await preload;
    const mod = (await import(m.module)) as Record<string, (...a: unknown[]) => Promise<unknown>>;
    const f = mod[m.fn];
    if (typeof f !== 'function') throw new TypeError(`${m.module} has no function ${m.fn}`);
    const send = (sent: unknown) => parentPort!.postMessage({ id: m.id, sent });
    parentPort!.postMessage({ id: m.id, ok: true, value: await (m.streams ? f(...m.args, send) : f(...m.args)) });
  } catch (e) {
    parentPort!.postMessage({ id: m.id, ok: false, error: serializeError(e) });
  }
});
