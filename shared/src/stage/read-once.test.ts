import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Duck, type Db } from '../duck/index.js';
import { checkHeader, DEFAULT_READ_LIMITS, readSheetInto } from '../excel/read.js';
import { SOURCES } from '../sources.js';
import { writeWorkbook } from '../testing/workbook.js';
import { coreToSpare, ReadOnce } from './read-once.js';

const ERP = SOURCES.erp;
const HEADER = ['product_id', 'onsale_web', 'price', 'stock_quantity', 'stock_status'];
const RUN = '2024-01-20240215T090000-0a0b0c';
const V = 'a'.repeat(64);

const duck = new Duck();
let dir: string;
let good: string;
let badRow: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bn-read-once-'));
  good = join(dir, 'good.xlsx');
  await writeWorkbook(good, [
    {
      name: 'erp',
      rows: [HEADER, [4954, 1, 24.2, 12, 'instock'], [], [15298, 0, 39, 0, 'outofstock'], ['', '', '', '', '']],
    },
  ]);
  // The header is right (the vital check passes), a row is not (clean's read fails).
  badRow = join(dir, 'bad-row.xlsx');
  await writeWorkbook(badRow, [{ name: 'erp', rows: [HEADER, [4954, 1, 'vingt euros', 12, 'instock']] }]);
});

afterAll(async () => {
  await duck.close();
  await rm(dir, { recursive: true, force: true });
});

const ROWS = 'SELECT product_id, price::VARCHAR AS price, stock_status, _row FROM raw_erp ORDER BY _row';
const keptTables = (db: Db) =>
  db.rows(`SELECT table_name FROM duckdb_tables() WHERE schema_name = 'read_once' ORDER BY table_name`);

describe('ReadOnce: a workbook parsed once per in-process run', () => {
  it("keeps the whole read: clean's raw table has the rows its own read gives, the vital check what checkHeader gives", async () => {
    const readOnce = new ReadOnce(duck);
    const whole = await readOnce.keep(RUN, ERP, V, good, DEFAULT_READ_LIMITS);
    const header = await checkHeader(good, ERP, DEFAULT_READ_LIMITS);
    expect(whole).toEqual({ zip: header.zip, sheetRead: header.sheetRead });

    const ownRead = await duck.with(async (db) => {
      const sink = await db.appendTo('raw_erp', ERP.columns);
      let sheet;
      try {
        sheet = await readSheetInto(good, ERP, DEFAULT_READ_LIMITS, sink);
      } finally {
        sink.close();
      }
      return { sheet, rows: await db.rows(ROWS) };
    });
    await duck.with(async (db) => {
      const kept = await readOnce.take(RUN, ERP, V, db, 'raw_erp');
      expect(kept?.sheet).toEqual(ownRead.sheet);
      expect(await db.rows(ROWS)).toEqual(ownRead.rows);
      expect(ownRead.rows).toHaveLength(2);
      // Released once read: the kept table goes, and it is taken once only.
      await kept?.release();
      expect(await keptTables(db)).toEqual([]);
      expect(await readOnce.take(RUN, ERP, V, db, 'raw_erp_again')).toBeNull();
    });
  });

  it('gives the rows only to the same run, file and data version', async () => {
    const readOnce = new ReadOnce(duck);
    expect(await readOnce.keep(RUN, ERP, V, good, DEFAULT_READ_LIMITS)).not.toBeNull();
    await duck.with(async (db) => {
      expect(await readOnce.take(RUN, ERP, 'b'.repeat(64), db, 'raw_erp')).toBeNull();
      expect(await readOnce.take('2024-01-other', ERP, V, db, 'raw_erp')).toBeNull();
      expect(await readOnce.take(RUN, SOURCES.web, V, db, 'raw_web')).toBeNull();
      const kept = await readOnce.take(RUN, ERP, V, db, 'raw_erp');
      expect(kept).not.toBeNull();
      await kept?.release();
    });
  });

  it('keeps nothing when the whole read fails, so the vital check and clean each do as in the services', async () => {
    const readOnce = new ReadOnce(duck);
    expect(await readOnce.keep(RUN, ERP, V, badRow, DEFAULT_READ_LIMITS)).toBeNull();
    // The header alone is fine: the vital check passes through checkHeader, clean reads and fails.
    await expect(checkHeader(badRow, ERP, DEFAULT_READ_LIMITS)).resolves.toMatchObject({ sheetRead: 'erp' });
    await duck.with(async (db) => {
      expect(await keptTables(db)).toEqual([]);
      expect(await readOnce.take(RUN, ERP, V, db, 'raw_erp')).toBeNull();
    });
  });
});

describe('coreToSpare: a large sheet read on two threads only when a core is free', () => {
  it('splits below one task per core, not at or above it, never on one core', () => {
    expect(coreToSpare(1.1, 2)).toBe(true);
    expect(coreToSpare(2, 2)).toBe(false);
    expect(coreToSpare(8, 2)).toBe(false);
    expect(coreToSpare(0, 1)).toBe(false);
    expect(coreToSpare(3.5, 8)).toBe(true);
  });
});
