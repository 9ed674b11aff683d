import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BottleneckError, SOURCES } from '@bottleneck/shared';
import { FolderStore } from '@bottleneck/shared/adapters/folder-store';
import type { AssetContext, AssetDefinition } from '@bottleneck/shared/assets/define';
import { DEFAULT_READ_LIMITS } from '@bottleneck/shared/excel/read';
import { writeWorkbook } from '@bottleneck/shared/testing/workbook';

// The asset modules are imported inside the tests: a module that throws as it loads (an asset or a
// check declared wrong) then fails these tests, instead of failing the file's import, which a
// mutation run does not count as a failed test (README, Mutation testing).
const load = async () => ({
  ...(await import('./raw.js')),
});

// The dropped exports as assets: what each declares, the version it reads (or refuses to read), and
// its vital check's verdict, naming file, sheet, column and row.

let dir: string;
let store: FolderStore;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bn-raw-'));
  store = new FolderStore(join(dir, 'store'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const ERP_KEY = 'incoming/2026-11/erp.xlsx';

/** What compute and the vital check use of a context; `fetch` reads through the store, honouring If-Match. */
function context(o: { pins?: Record<string, string>; fetch?: AssetContext['fetch']; path?: string } = {}) {
  const fetched: unknown[] = [];
  const ctx = {
    run: { runId: '2026-11-r1', partition: '2026-11', startedAt: '', ...(o.pins ? { pins: o.pins } : {}) },
    store,
    limits: DEFAULT_READ_LIMITS,
    fetch:
      o.fetch ??
      (async (key: string, opts?: { ifMatch?: string }) => {
        fetched.push([key, opts]);
        const p = join(dir, `fetched-${String(fetched.length)}.xlsx`);
        await writeFile(p, await store.get(key, opts));
        return p;
      }),
    inputFile: () => Promise.resolve(o.path ?? ''),
    materialization: () => ({ dataVersion: 'v1', metadata: {} }),
  } as unknown as AssetContext;
  return { ctx, fetched };
}

async function failure(p: Promise<unknown>): Promise<BottleneckError> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(BottleneckError);
  return e as BottleneckError;
}

describe('the raw assets declare', () => {
  it('one source per export, its file named as the user drops it, one blocking vital check', async () => {
    const m = await load();
    const shape = (a: AssetDefinition) => [
      a.key,
      a.kind,
      a.file,
      a.deps,
      a.checks.map((c) => [c.name, c.severity, c.blocking]),
    ];
    expect([m.rawErp, m.rawWeb, m.rawLiaison].map(shape)).toEqual([
      ['raw_erp', 'source', 'erp.xlsx', [], [['vital', 'ERROR', true]]],
      ['raw_web', 'source', 'web.xlsx', [], [['vital', 'ERROR', true]]],
      ['raw_liaison', 'source', 'liaison.xlsx', [], [['vital', 'ERROR', true]]],
    ]);
    expect(m.rawErp.description).toBe('erp.xlsx as dropped in incoming/<partition>/; data version = content hash');
    expect(m.rawErp.checks[0]!.description).toBe(
      'file present, within size bounds, an intact xlsx with the required sheet and columns',
    );
  });
});

describe('a raw asset materialized', () => {
  it('reads the version it saw (If-Match its ETag): its content hash is the data version, its size and ETag kept', async () => {
    const m = await load();
    const body = Buffer.from('erp bytes');
    await store.put(ERP_KEY, body);
    const head = (await store.head(ERP_KEY))!;
    const { ctx, fetched } = context();
    const r = await m.rawErp.compute(ctx);
    expect(fetched).toEqual([[ERP_KEY, { ifMatch: head.etag }]]);
    expect(r).toMatchObject({
      kind: 'object',
      materialization: {
        location: ERP_KEY,
        dataVersion: createHash('sha256').update(body).digest('hex'),
        metadata: { bytes: body.length, etag: head.etag, durationMs: 0 },
      },
    });
  });

  it('reads the version the run pinned, when it is still there', async () => {
    const m = await load();
    await store.put(ERP_KEY, 'pinned');
    const head = (await store.head(ERP_KEY))!;
    const { ctx, fetched } = context({ pins: { [ERP_KEY]: head.etag } });
    await m.rawErp.compute(ctx);
    expect(fetched).toEqual([[ERP_KEY, { ifMatch: head.etag }]]);
  });

  it('is not run when the file was replaced since the upload that started the run', async () => {
    const m = await load();
    await store.put(ERP_KEY, 'newer');
    const { ctx, fetched } = context({ pins: { [ERP_KEY]: 'an-older-etag' } });
    const e = await failure(m.rawErp.compute(ctx));
    expect([e.code, e.message, e.location]).toEqual([
      'BN_ERR_RUN_SUPERSEDED',
      'run 2026-11-r1 of 2026-11 is not run: erp.xlsx changed since the upload that started it; the run of the new version has the month',
      { file: 'erp.xlsx' },
    ]);
    expect(fetched).toEqual([]);
  });

  it('is not run when the file changes while it is read (the If-Match read refused)', async () => {
    const m = await load();
    await store.put(ERP_KEY, 'read');
    // Replaced between the HEAD and the read: the store refuses the If-Match read.
    const { ctx } = context({
      fetch: async (key, opts) => {
        await store.put(key, 'replaced meanwhile, longer');
        await store.get(key, opts);
        return '';
      },
    });
    const e = await failure(m.rawErp.compute(ctx));
    expect([e.code, e.message, e.location]).toEqual([
      'BN_ERR_RUN_SUPERSEDED',
      'run 2026-11-r1 of 2026-11 is not run: erp.xlsx changed while it was being read; the run of the new version has the month',
      { file: 'erp.xlsx' },
    ]);
  });

  it('passes any other read failure on as it is', async () => {
    const m = await load();
    await store.put(ERP_KEY, 'read');
    const other = await failure(store.get('incoming/2026-11/nowhere.xlsx'));
    await expect(m.rawErp.compute(context({ fetch: () => Promise.reject(other) }).ctx)).rejects.toBe(other);
    const plain = new Error('socket hang up');
    await expect(m.rawErp.compute(context({ fetch: () => Promise.reject(plain) }).ctx)).rejects.toBe(plain);
  });

  it('a missing file names itself, where it was expected and the three files a month needs', async () => {
    const m = await load();
    const e = await failure(m.rawWeb.compute(context().ctx));
    expect([e.code, e.message, e.location]).toEqual([
      'BN_ERR_INPUT_MISSING',
      `web.xlsx is missing: expected at ${store.describe('incoming/2026-11/web.xlsx')} (the month needs erp.xlsx, web.xlsx and liaison.xlsx)`,
      { file: 'web.xlsx' },
    ]);
  });
});

describe("a raw asset's vital check", () => {
  it('passes on an intact export, saying which sheet it read and how many zip entries it holds', async () => {
    const m = await load();
    const path = join(dir, 'erp-ok.xlsx');
    const header = SOURCES.erp.columns.map((c) => c.name);
    await writeWorkbook(path, [{ name: 'Sheet1', rows: [header, [1, 1, 10, 5, 'instock']] }]);
    const r = await m.rawErp.checks[0]!.run!(context({ path }).ctx);
    expect(r.passed).toBe(true);
    expect(r.metadata).toMatchObject({ sheet: 'Sheet1' });
    expect(r.metadata!.zipEntries).toBeGreaterThan(3);
  });

  it('fails with the input error it found, naming file, sheet, column and row', async () => {
    const m = await load();
    const path = join(dir, 'erp-bad.xlsx');
    await writeWorkbook(path, [{ name: 'Sheet1', rows: [['product_id', 'price']] }]);
    const r = await m.rawErp.checks[0]!.run!(context({ path }).ctx);
    expect(r.passed).toBe(false);
    expect(r).toEqual({
      passed: false,
      message:
        'erp.xlsx, sheet "Sheet1", header row 1: required columns "onsale_web", "stock_quantity", "stock_status" missing (found: "product_id", "price")',
      error: {
        code: 'BN_ERR_INPUT_COLUMN_MISSING',
        location: { file: 'erp.xlsx', sheet: 'Sheet1', column: 'onsale_web, stock_quantity, stock_status', row: 1 },
      },
    });
  });

  it('fails on a file that is no xlsx at all, saying what to do', async () => {
    const m = await load();
    const path = join(dir, 'erp-text.xlsx');
    await writeFile(path, 'not a zip');
    const r = await m.rawErp.checks[0]!.run!(context({ path }).ctx);
    expect(r.passed).toBe(false);
    expect(r).toEqual({
      passed: false,
      message:
        'erp.xlsx is not an xlsx workbook (it does not start with the zip signature PK): export it again from Excel as .xlsx',
      error: { code: 'BN_ERR_INPUT_NOT_XLSX', location: { file: 'erp.xlsx' } },
    });
  });

  it('lets an error that is no input error through (a bug is not a bad file)', async () => {
    const m = await load();
    const { ctx } = context();
    const bug = new TypeError('boom');
    (ctx as { inputFile: unknown }).inputFile = () => Promise.resolve(join(dir, 'x.xlsx'));
    (ctx as { readOnce: unknown }).readOnce = { keep: () => Promise.reject(bug) };
    await expect(m.rawErp.checks[0]!.run!(ctx)).rejects.toBe(bug);
  });

  it('takes the whole read kept for clean when the run has one, instead of reading the header again', async () => {
    const m = await load();
    const kept = { zip: { entries: [1, 2] }, sheetRead: 'Kept' };
    const calls: unknown[] = [];
    const { ctx } = context({ path: join(dir, 'never-read.xlsx') });
    (ctx as { readOnce: unknown }).readOnce = {
      keep: (...a: unknown[]) => {
        calls.push(a.slice(0, 4));
        return Promise.resolve(kept);
      },
    };
    await expect(m.rawErp.checks[0]!.run!(ctx)).resolves.toEqual({
      passed: true,
      metadata: { zipEntries: 2, sheet: 'Kept' },
    });
    expect(calls).toEqual([['2026-11-r1', SOURCES.erp, 'v1', join(dir, 'never-read.xlsx')]]);
  });
});
