/** Tasks for the worker pool's own tests. */
import { createError } from '../../errors/index.js';

export async function add(a: number, b: number): Promise<number> {
  return a + b;
}

export async function fail(): Promise<never> {
  throw createError('BN_ERR_INPUT_BAD_VALUE', 'x.xlsx, sheet "S", column "c", row 3: bad', {
    location: { file: 'x.xlsx', row: 3 },
  });
}

export async function spin(ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    /* busy: only terminate() stops this */
  }
}

/** Waits `ms` without using the CPU: what a worker starved of CPU looks like to a wall clock. */
export async function nap(ms: number): Promise<string> {
  await new Promise((r) => setTimeout(r, ms));
  return 'rested';
}

export async function hog(): Promise<number> {
  const keep: number[][] = [];
  for (;;) keep.push(new Array<number>(1_000_000).fill(Math.random()));
}

/** Sends 1..n as it counts, then returns n: what a streaming task does. */
export async function count(n: number, send: (i: number) => void): Promise<number> {
  for (let i = 1; i <= n; i++) {
    send(i);
    if (i % 100 === 0) await new Promise((r) => setImmediate(r));
  }
  return n;
}

/** Holds its worker until the test sets gate[0] to 1 (the array shares its memory with the test's thread). */
export async function held(gate: Int32Array): Promise<string> {
  while (Atomics.load(gate, 0) === 0) await new Promise((r) => setTimeout(r, 10));
  return 'released';
}
