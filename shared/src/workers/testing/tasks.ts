/** Tasks for the worker pool's own tests. */
import { BottleneckError } from '../../errors/index.js';

export async function add(a: number, b: number): Promise<number> {
  return a + b;
}

export async function fail(): Promise<never> {
  throw new BottleneckError('BN_ERR_INPUT_BAD_VALUE', 'x.xlsx, sheet "S", column "c", row 3: bad', { location: { file: 'x.xlsx', row: 3 } });
}

export async function spin(ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) { /* busy: only terminate() stops this */ }
}

export async function hog(): Promise<number> {
  const keep: number[][] = [];
  for (;;) keep.push(new Array(1_000_000).fill(Math.random()));
}
