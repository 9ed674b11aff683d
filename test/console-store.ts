/**
 * A folder store as the console's tests need it, written by the pipeline itself (`runEmbedded`,
 * the same entry point as `bottleneck run`): a published month, a failed month (a truncated
 * erp.xlsx, so ingest fails with a message in words) and a month waiting for its third file.
 */
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runEmbedded } from '@bottleneck/cli/embedded';
import { generateMonth } from '@bottleneck/cli/generate/index';

export const PUBLISHED = '2026-10';
export const FAILED = '2026-11';
export const WAITING = '2026-12';

export interface ConsoleStore {
  out: string;
  good: string;
  publishedRunId: string;
  failedRunId: string;
  /** Replaces the failed month's truncated erp.xlsx in incoming/ with a whole one. */
  fixFailedInput(): Promise<void>;
}

export async function makeConsoleStore(root: string): Promise<ConsoleStore> {
  const good = join(root, 'good');
  const bad = join(root, 'bad');
  const out = join(root, 'out');
  await generateMonth({ outDir: good, scale: 1, seed: 7 });
  await mkdir(bad, { recursive: true });
  for (const n of ['web', 'liaison']) await copyFile(join(good, `${n}.xlsx`), join(bad, `${n}.xlsx`));
  await writeFile(join(bad, 'erp.xlsx'), (await readFile(join(good, 'erp.xlsx'))).subarray(0, 3000));
  const ok = await runEmbedded({ input: good, out, partition: PUBLISHED });
  if (ok.status !== 'succeeded') throw new Error(`fixture: ${PUBLISHED} did not publish: ${ok.error?.message}`);
  const ko = await runEmbedded({ input: bad, out, partition: FAILED });
  if (ko.status !== 'failed') throw new Error(`fixture: ${FAILED} did not fail`);
  await mkdir(join(out, 'incoming', WAITING), { recursive: true });
  for (const n of ['erp', 'web']) await copyFile(join(good, `${n}.xlsx`), join(out, 'incoming', WAITING, `${n}.xlsx`));
  return {
    out,
    good,
    publishedRunId: ok.runId,
    failedRunId: ko.runId,
    fixFailedInput: () => copyFile(join(good, 'erp.xlsx'), join(out, 'incoming', FAILED, 'erp.xlsx')),
  };
}
