import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AssetContext } from '@bottleneck/shared/assets/define';
import type { Task, TaskRunner } from '@bottleneck/shared/workers/pool';
import { DEFAULT_READ_LIMITS } from '@bottleneck/shared/excel/read';
import { writeWorkbook } from '@bottleneck/shared/testing/workbook';
import { SOURCES, type InputName } from '@bottleneck/shared';
import { cleanWorkbook } from './clean.js';

// cleanWorkbook: where each raw workbook is read (the rows kept at ingest, a worker, or here), the
// rows appended in order, the clean SQL run once they are in, and what the materialization says.

let dir: string;
let erpPath: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bn-clean-'));
  erpPath = join(dir, 'erp.xlsx');
  const header = SOURCES.erp.columns.map((c) => c.name);
  await writeWorkbook(erpPath, [
    { name: 'Sheet1', rows: [[...header, 'extra'], [1, 1, 10, 5, 'instock', 'x'], [' '], [2, 0, 20, 0, 'outofstock']] },
  ]);
  await writeWorkbook(join(dir, 'liaison.xlsx'), [
    { name: 'Sheet1', rows: [SOURCES.liaison.columns.map((c) => c.name), SOURCES.liaison.columns.map(() => 1)] },
  ]);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A context over a recording database and task runner; bytes of each raw input as given. */
function context(o: {
  bytes?: Partial<Record<InputName, number>>;
  perGroup?: number;
  readOnce?: unknown;
  onTask?: (t: Task) => Promise<unknown>;
}) {
  const log: unknown[] = [];
  const rows: unknown[][] = [];
  const tasks: TaskRunner = {
    threads: o.perGroup ?? 0,
    perGroup: o.perGroup ?? 0,
    run: <T>(t: Task) => {
      log.push(['task', t.fn, t.label, t.group, t.timeoutMs, t.args[0]]);
      return (o.onTask ?? (() => Promise.reject(new Error('no worker'))))(t) as Promise<T>;
    },
    close: () => Promise.resolve(),
  };
  const db = {
    appendTo: (table: string) => {
      log.push(['appendTo', table]);
      return Promise.resolve({
        row: (values: unknown[], row: number) => rows.push([row, ...values]),
        close: () => log.push(['close', table]),
      });
    },
    run: (sql: string) => {
      log.push(['run', sql]);
      return Promise.resolve();
    },
  };
  const ctx = {
    run: { runId: 'r1', partition: '2026-11', startedAt: '' },
    limits: { ...DEFAULT_READ_LIMITS, maxMillis: 30_000 },
    tasks,
    readOnce: o.readOnce,
    db: () => Promise.resolve(db),
    sql: (name: string) => name,
    inputFile: (k: string) => Promise.resolve(k === 'raw_erp' ? erpPath : join(dir, `${k.slice(4)}.xlsx`)),
    materialization: (k: string) => ({
      dataVersion: `v-${k}`,
      metadata: { bytes: o.bytes?.[k.replace('raw_', '') as InputName] },
    }),
  } as unknown as AssetContext;
  return { ctx, log, rows };
}

describe('cleanWorkbook', () => {
  it('reads here when there is no worker: rows appended in order, then the clean SQL; the sheet summarised', async () => {
    const { ctx, log, rows } = context({});
    const r = await cleanWorkbook(ctx, 'erp');
    expect(log).toEqual([
      ['appendTo', 'raw_erp'],
      ['close', 'raw_erp'],
      ['run', 'create_erp_clean'],
    ]);
    expect(rows.map((x) => x[0])).toEqual([2, 4]);
    expect(r).toEqual({
      kind: 'table',
      metadata: { rawRows: 3, blankRows: 1, sheet: 'Sheet1', ignoredColumns: ['extra'] },
    });
  });

  it('sends the largest workbooks to the workers, as many as a month may hold; reads the others here', async () => {
    const bytes = { erp: 300, web: 900, liaison: 100 };
    const sent: Task[] = [];
    const onTask = (t: Task) => {
      sent.push(t);
      t.onMessage!({ columns: SOURCES.erp.columns.map((_, i) => [i + 1]), rows: [7] });
      return Promise.resolve({ rowCount: 1, headerRow: 1, blankRows: 0, extraColumns: [], sheetRead: 'Sheet1' });
    };
    // One worker for the month: web.xlsx (the largest) goes there, erp.xlsx is read here.
    const one = context({ bytes, perGroup: 1, onTask });
    await cleanWorkbook(one.ctx, 'erp');
    expect(sent).toEqual([]);
    await cleanWorkbook(one.ctx, 'web');
    expect(sent.map((t) => [t.fn, t.label, t.group, t.timeoutMs])).toEqual([
      ['readSheetBatches', 'web.xlsx', '2026-11', 35_000],
    ]);
    expect(one.rows).toContainEqual([7, 1, 2, 3, 4, 5]);
    // Two: web.xlsx and erp.xlsx go, liaison.xlsx (the smallest) does not.
    const two = context({ bytes, perGroup: 2, onTask });
    await cleanWorkbook(two.ctx, 'erp');
    await cleanWorkbook(two.ctx, 'liaison');
    expect(sent.map((t) => t.label)).toEqual(['web.xlsx', 'erp.xlsx']);
    expect(two.log.filter((l) => (l as string[])[0] === 'close')).toEqual([
      ['close', 'raw_erp'],
      ['close', 'raw_liaison'],
    ]);
  });

  it('closes the appender when the read fails, and runs no SQL', async () => {
    const { ctx, log } = context({ bytes: { erp: 1 }, perGroup: 3 });
    await expect(cleanWorkbook(ctx, 'erp')).rejects.toThrow('no worker');
    expect(log.map((l) => (l as string[])[0])).toEqual(['appendTo', 'task', 'close']);
  });

  it('takes the rows ingest kept, releases them once the SQL has read them, and reports a sheet read instead', async () => {
    const calls: unknown[] = [];
    const readOnce = {
      take: (...a: unknown[]) => {
        calls.push(a.slice(0, 3));
        return Promise.resolve({
          sheet: {
            rowCount: 5,
            headerRow: 1,
            blankRows: 0,
            extraColumns: [],
            sheetRead: 'Export',
            sheetFallback: { expected: 'Sheet1', read: 'Export' },
          },
          release: () => {
            calls.push('release');
            return Promise.resolve();
          },
        });
      },
    };
    const { ctx, log } = context({ readOnce });
    const r = await cleanWorkbook(ctx, 'erp');
    expect(calls).toEqual([['r1', SOURCES.erp, 'v-raw_erp'], 'release']);
    expect(log).toEqual([['run', 'create_erp_clean']]);
    expect(r).toEqual({
      kind: 'table',
      metadata: { rawRows: 5, blankRows: 0, sheet: 'Export', sheetFallback: { expected: 'Sheet1', read: 'Export' } },
    });
  });

  it('reads the workbook itself when ingest kept nothing for it', async () => {
    const { ctx, log } = context({ readOnce: { take: () => Promise.resolve(null) } });
    await cleanWorkbook(ctx, 'erp');
    expect(log[0]).toEqual(['appendTo', 'raw_erp']);
  });

  it('releases the kept rows even when the clean SQL fails', async () => {
    let released = false;
    const readOnce = {
      take: () =>
        Promise.resolve({
          sheet: { rowCount: 0, headerRow: 1, blankRows: 0, extraColumns: [], sheetRead: 'Sheet1' },
          release: () => {
            released = true;
            return Promise.resolve();
          },
        }),
    };
    const { ctx } = context({ readOnce });
    (await ctx.db()).run = () => Promise.reject(new Error('sql failed'));
    await expect(cleanWorkbook(ctx, 'erp')).rejects.toThrow('sql failed');
    expect(released).toBe(true);
  });
});
