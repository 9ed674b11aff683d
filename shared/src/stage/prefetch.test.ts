import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The worker runs compiled code: the prefetch, and what it hands rows to, from dist (as the pool's tests).
import { Duck, type Db } from '../../dist/duck/index.js';
import { DEFAULT_READ_LIMITS, readSheetInto } from '../../dist/excel/read.js';
import { Prefetch, workerUrl } from '../../dist/stage/prefetch.js';
import { ReadOnce } from '../../dist/stage/read-once.js';
import { SOURCES } from '../sources.js';
import { writeWorkbook } from '../testing/workbook.js';

const ERP = SOURCES.erp;
const HEADER = ['product_id', 'onsale_web', 'price', 'stock_quantity', 'stock_status'];
const RUN = '2024-01-20240215T090000-0a0b0c';
const LIMITS = JSON.stringify(DEFAULT_READ_LIMITS);

const duck = new Duck();
let dir: string;
let good: string;
let goodSha: string;
let badRow: string;
let badSha: string;
const sha = async (p: string) =>
  createHash('sha256')
    .update(await readFile(p))
    .digest('hex');

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bn-prefetch-'));
  good = join(dir, 'good.xlsx');
  // More rows than one batch of the worker: the rows come in several messages.
  const rows: unknown[][] = [HEADER];
  for (let i = 1; i <= 5000; i++) rows.push([i, i % 2, `${i}.25`, i % 7, 'instock']);
  await writeWorkbook(good, [{ name: 'erp', rows }]);
  goodSha = await sha(good);
  badRow = join(dir, 'bad-row.xlsx');
  await writeWorkbook(badRow, [{ name: 'erp', rows: [HEADER, [4954, 1, 'vingt euros', 12, 'instock']] }]);
  badSha = await sha(badRow);
});

afterAll(async () => {
  await duck.close();
  await rm(dir, { recursive: true, force: true });
});

const ROWS = 'SELECT product_id, price::VARCHAR AS price, stock_status, _row FROM raw_erp ORDER BY _row';
const keptTables = (db: Db) =>
  db.rows(`SELECT table_name FROM duckdb_tables() WHERE schema_name = 'read_once' ORDER BY table_name`);

async function ownRows(path: string) {
  return duck.with(async (db) => {
    const sink = await db.appendTo('raw_erp', ERP.columns);
    let sheet;
    try {
      sheet = await readSheetInto(path, ERP, DEFAULT_READ_LIMITS, sink);
    } finally {
      sink.close();
    }
    return { sheet, rows: await db.rows(ROWS) };
  });
}

async function takenRows(readOnce: ReadOnce, dataVersion: string) {
  return duck.with(async (db) => {
    const kept = await readOnce.take(RUN, ERP, dataVersion, db, 'raw_erp');
    try {
      return { sheet: kept?.sheet, rows: await db.rows(ROWS) };
    } finally {
      await kept?.release();
    }
  });
}

describe('Prefetch: the workbooks read on a worker from the start of bottleneck run', () => {
  it("hands ingest's whole read the worker's rows of the same bytes: the same rows and summary as a read of its own", async () => {
    const prefetch = await Prefetch.start([{ name: 'erp', file: ERP.file, path: good }]);
    try {
      const readOnce = new ReadOnce(duck, prefetch);
      // The path ingest gives does not exist: only the worker's rows can make this read succeed.
      const whole = await readOnce.keep(RUN, ERP, goodSha, join(dir, 'absent.xlsx'), DEFAULT_READ_LIMITS);
      expect(whole?.sheetRead).toBe('erp');
      const taken = await takenRows(readOnce, goodSha);
      const own = await ownRows(good);
      expect(taken.sheet).toEqual(own.sheet);
      expect(taken.rows).toEqual(own.rows);
      expect(own.rows).toHaveLength(5000);
      // Claimed once only.
      expect(await prefetch.claim(ERP.file, goodSha, LIMITS)).toBeNull();
    } finally {
      await prefetch.close();
    }
  });

  it('is not used for other bytes or other limits: ingest reads the file itself', async () => {
    const prefetch = await Prefetch.start([{ name: 'erp', file: ERP.file, path: good }]);
    try {
      expect(await prefetch.claim(ERP.file, 'b'.repeat(64), LIMITS)).toBeNull();
      expect(
        await prefetch.claim(ERP.file, goodSha, JSON.stringify({ ...DEFAULT_READ_LIMITS, maxRows: 10 })),
      ).toBeNull();
      expect(await prefetch.claim(SOURCES.web.file, goodSha, LIMITS)).toBeNull();
      const readOnce = new ReadOnce(duck, prefetch);
      // Another data version: not the worker's rows; the absent path makes the read of its own fail.
      expect(await readOnce.keep(RUN, ERP, 'c'.repeat(64), join(dir, 'absent.xlsx'), DEFAULT_READ_LIMITS)).toBeNull();
    } finally {
      await prefetch.close();
    }
  });

  it("keeps nothing when the worker's read fails: the vital check and clean then do as without it", async () => {
    const prefetch = await Prefetch.start([{ name: 'erp', file: ERP.file, path: badRow }]);
    try {
      const readOnce = new ReadOnce(duck, prefetch);
      expect(await readOnce.keep(RUN, ERP, badSha, badRow, DEFAULT_READ_LIMITS)).toBeNull();
      await duck.with(async (db) => expect(await keptTables(db)).toEqual([]));
    } finally {
      await prefetch.close();
    }
  });

  it('reads no more bytes than it is given: a workbook beyond them is left to ingest', async () => {
    const size = (await readFile(good)).length;
    const prefetch = await Prefetch.start(
      [
        { name: 'erp', file: ERP.file, path: good },
        { name: 'web', file: SOURCES.web.file, path: good },
      ],
      size + 1,
    );
    try {
      expect(await prefetch.claim(SOURCES.web.file, goodSha, LIMITS)).toBeNull();
      expect(await prefetch.claim(ERP.file, goodSha, LIMITS)).not.toBeNull();
    } finally {
      await prefetch.close();
    }
  });

  it('gives nothing once stopped, without waiting for the worker', async () => {
    const prefetch = await Prefetch.start([{ name: 'erp', file: ERP.file, path: good }]);
    await prefetch.close();
    expect(await prefetch.claim(ERP.file, goodSha, LIMITS)).toBeNull();
  });
});

describe("workerUrl: the worker's script", () => {
  it('is the bundle while every module listed is the file it was built from, the unbundled script otherwise', async () => {
    const root = join(dir, 'root');
    const stage = join(root, 'shared', 'dist', 'stage');
    await mkdir(stage, { recursive: true });
    const module = join(root, 'shared', 'dist', 'excel.js');
    await writeFile(module, 'export const a = 1;\n');
    const at = (u: URL) => u.pathname.slice(stage.length + 1);
    const url = () => workerUrl(pathToFileURL(`${stage}/`), pathToFileURL(`${root}/`));
    // No list (a build without esbuild): the script.
    expect(at(url())).toBe('prefetch-worker.js');
    const s = await stat(module);
    const list = (size: number) =>
      writeFile(
        join(stage, 'prefetch-worker.bundle.json'),
        JSON.stringify({ modules: [{ path: 'shared/dist/excel.js', size, mtimeMs: s.mtimeMs }] }),
      );
    await list(s.size);
    expect(at(url())).toBe('prefetch-worker.bundle.js');
    // A module rebuilt since (tsc -b alone): the script, which imports the new one.
    await list(s.size + 1);
    expect(at(url())).toBe('prefetch-worker.js');
    await rm(module);
    await list(s.size);
    expect(at(url())).toBe('prefetch-worker.js');
  });

  it.skipIf(!existsSync(new URL('../../dist/stage/prefetch-worker.bundle.json', import.meta.url)))(
    'is the bundle after the build (npm run build made it)',
    () => {
      expect(workerUrl().pathname.endsWith('/shared/dist/stage/prefetch-worker.bundle.js')).toBe(true);
    },
  );
});
