/**
 * A folder store as the console's tests need it, written by the pipeline itself (`runEmbedded`,
 * the same entry point as `bottleneck run`): a published month, a failed month (a truncated
 * erp.xlsx, so ingest fails with a message in words) and a month waiting for its third file.
 */
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import { runEmbedded } from '@bottleneck/cli/embedded';
import { EmbeddedEngine } from '@bottleneck/cli/console';
import type { PipelineEvent } from '@bottleneck/shared/events/index';
import type { SubscribeOptions } from '@bottleneck/shared/ports/bus';
import { generateMonth } from '@bottleneck/cli/generate/index';

export const PUBLISHED = '2026-10';
export const FAILED = '2026-11';
export const WAITING = '2026-12';
/** With `cleanFailure`: a month whose erp.xlsx has a bad cell, so clean fails. */
export const CLEAN_FAILED = '2026-08';

export interface ConsoleStore {
  out: string;
  good: string;
  publishedRunId: string;
  failedRunId: string;
  /** Replaces the failed month's truncated erp.xlsx in incoming/ with a whole one. */
  fixFailedInput(): Promise<void>;
  /** The run that failed at clean (with `cleanFailure`). */
  cleanFailedRunId?: string;
  /** Replaces CLEAN_FAILED's erp.xlsx (a bad cell) with a good one. */
  fixCleanInput(): Promise<void>;
}

export async function makeConsoleStore(root: string, o: { cleanFailure?: boolean } = {}): Promise<ConsoleStore> {
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
  let cleanFailedRunId: string | undefined;
  if (o.cleanFailure) {
    const dirty = join(root, 'dirty');
    await mkdir(dirty, { recursive: true });
    for (const n of ['web', 'liaison']) await copyFile(join(good, `${n}.xlsx`), join(dirty, `${n}.xlsx`));
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(join(good, 'erp.xlsx'));
    wb.getWorksheet('Sheet1')!.getCell('C7').value = 'vingt euros';
    await wb.xlsx.writeFile(join(dirty, 'erp.xlsx'));
    const c = await runEmbedded({ input: dirty, out, partition: CLEAN_FAILED });
    if (c.status !== 'failed' || c.error?.stage !== 'clean')
      throw new Error(`fixture: ${CLEAN_FAILED} did not fail at clean`);
    cleanFailedRunId = c.runId;
  }
  await mkdir(join(out, 'incoming', WAITING), { recursive: true });
  for (const n of ['erp', 'web']) await copyFile(join(good, `${n}.xlsx`), join(out, 'incoming', WAITING, `${n}.xlsx`));
  return {
    out,
    good,
    publishedRunId: ok.runId,
    failedRunId: ko.runId,
    fixFailedInput: () => copyFile(join(good, 'erp.xlsx'), join(out, 'incoming', FAILED, 'erp.xlsx')),
    ...(cleanFailedRunId ? { cleanFailedRunId } : {}),
    fixCleanInput: () => copyFile(join(good, 'erp.xlsx'), join(out, 'incoming', CLEAN_FAILED, 'erp.xlsx')),
  };
}

/** Months with their three files in incoming/ and no run yet (what a backfill runs). */
export async function addFreshMonths(store: ConsoleStore, months: readonly string[]): Promise<void> {
  for (const p of months) {
    await mkdir(join(store.out, 'incoming', p), { recursive: true });
    for (const n of ['erp', 'web', 'liaison'])
      await copyFile(join(store.good, `${n}.xlsx`), join(store.out, 'incoming', p, `${n}.xlsx`));
  }
}

/**
 * An engine whose ingest holds every backfill trigger after the first until released: the test
 * cancels while the first month runs and the others wait, as a person cancelling half-way would.
 */
export function heldEngine(out: string) {
  const engine = new EmbeddedEngine(out);
  const bus = engine.adapters.bus;
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let seen = 0;
  const held: string[] = [];
  const subscribe = bus.subscribe.bind(bus);
  bus.subscribe = (opts: SubscribeOptions) =>
    subscribe({
      ...opts,
      handler: async (e: PipelineEvent) => {
        if (e.type === 'trigger' && e.payload.backfillId && seen++ > 0) {
          held.push(e.partition);
          await released;
        }
        return opts.handler(e);
      },
    });
  return { engine, release, held };
}

/**
 * Runs `partition` through the pipeline on the store's good files with every web row's
 * total_sales multiplied by `salesFactor` (a whole number, so the revenue is exactly that many
 * times the good files'), and returns its run. Two months, the first with twice the sales, make the
 * second a month with half the revenue of the month before it.
 */
export async function runScaledMonth(store: ConsoleStore, partition: string, salesFactor: number) {
  const dir = join(store.out, '..', `sales-x${salesFactor}`);
  await mkdir(dir, { recursive: true });
  for (const n of ['erp', 'liaison']) await copyFile(join(store.good, `${n}.xlsx`), join(dir, `${n}.xlsx`));
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.readFile(join(store.good, 'web.xlsx'));
  const ws = wb.getWorksheet('Sheet1')!;
  const header = ws.getRow(1).values as unknown[];
  const col = header.indexOf('total_sales');
  if (col < 1) throw new Error('fixture: web.xlsx has no total_sales column');
  ws.eachRow((row, i) => {
    const cell = row.getCell(col);
    if (i > 1 && typeof cell.value === 'number') cell.value = cell.value * salesFactor;
  });
  await wb.xlsx.writeFile(join(dir, 'web.xlsx'));
  const r = await runEmbedded({ input: dir, out: store.out, partition });
  if (r.status !== 'succeeded') throw new Error(`fixture: ${partition} did not publish: ${r.error?.message}`);
  return r;
}

/** A month with erp.xlsx and web.xlsx in incoming/ and liaison.xlsx missing (late once past BN_FILES_DUE_DAY). */
export async function addMonthMissingLiaison(store: ConsoleStore, partition: string): Promise<void> {
  await mkdir(join(store.out, 'incoming', partition), { recursive: true });
  for (const n of ['erp', 'web'])
    await copyFile(join(store.good, `${n}.xlsx`), join(store.out, 'incoming', partition, `${n}.xlsx`));
}
