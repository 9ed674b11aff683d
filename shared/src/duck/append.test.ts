import { afterAll, describe, expect, it } from 'vitest';
import type { ColumnSpec } from '../sources.js';
import { Duck } from './index.js';

const duck = new Duck();
afterAll(() => duck.close());

const COLUMNS: ColumnSpec[] = [
  { name: 'id', type: 'int', sql: 'BIGINT' },
  { name: 'price', type: 'decimal', sql: 'DECIMAL(18,4)' },
  { name: 'rating', type: 'double', sql: 'DOUBLE' },
  { name: 'title', type: 'text', sql: 'VARCHAR' },
  { name: 'modified', type: 'timestamp', sql: 'TIMESTAMP' },
];

describe("Db.appendTo: rows into a temp table through DuckDB's appender", () => {
  it('keeps every value exact: whole numbers past 32 bits, decimals as written, wall-clock timestamps, text, nulls', async () => {
    const rows = await duck.with(async (db) => {
      const sink = await db.appendTo('raw_x', COLUMNS);
      try {
        sink.row([4954, '24.2', 4.5, 'Ch\u00e2teau "Margaux" & Fils\nligne 2', '2024-01-31 12:30:00.000'], 2);
        sink.row([-9_007_199_254_740_991, '-0.0001', -0.5, '', '1904-01-01 00:00:00.000'], 3);
        sink.row([2 ** 31, '99999999999999.9999', 1e300, 'x', null], 7);
        sink.row([null, null, null, null, null], 8);
      } finally {
        sink.close();
      }
      return db.rows(
        'SELECT id::VARCHAR AS id, price::VARCHAR AS price, rating, title, modified::VARCHAR AS modified, _row FROM raw_x ORDER BY _row',
      );
    });
    expect(rows).toEqual([
      {
        id: '4954',
        price: '24.2000',
        rating: 4.5,
        title: 'Ch\u00e2teau "Margaux" & Fils\nligne 2',
        modified: '2024-01-31 12:30:00',
        _row: 2,
      },
      { id: '-9007199254740991', price: '-0.0001', rating: -0.5, title: '', modified: '1904-01-01 00:00:00', _row: 3 },
      { id: '2147483648', price: '99999999999999.9999', rating: 1e300, title: 'x', modified: null, _row: 7 },
      { id: null, price: null, rating: null, title: null, modified: null, _row: 8 },
    ]);
  });

  it("creates the spec's column types plus _row", async () => {
    const cols = await duck.with(async (db) => {
      (await db.appendTo('raw_y', COLUMNS)).close();
      return db.columns('raw_y');
    });
    expect(cols).toEqual([
      { name: 'id', type: 'BIGINT' },
      { name: 'price', type: 'DECIMAL(18,4)' },
      { name: 'rating', type: 'DOUBLE' },
      { name: 'title', type: 'VARCHAR' },
      { name: 'modified', type: 'TIMESTAMP' },
      { name: '_row', type: 'INTEGER' },
    ]);
  });
});

describe('Db.appendTo with a flush every n rows (a large month: Duck({ appendFlushRows }))', () => {
  const flushing = new Duck({ threads: '1' }, { appendFlushRows: 3 });
  afterAll(() => flushing.close());

  /** Rows the table has for another connection after `n` rows were appended (the appender still open), then after close. */
  async function committed(d: Duck, n: number): Promise<[number, number, number[]]> {
    const db = await d.connect();
    const other = await d.connect();
    try {
      const sink = await db.appendTo('flushed', [{ name: 'id', type: 'int', sql: 'BIGINT' }], 'main');
      let before: number;
      try {
        for (let i = 0; i < n; i++) sink.row([i], i + 2);
        before = await other.count('flushed');
      } finally {
        sink.close();
      }
      const rows = await other.rows('SELECT id::INTEGER AS id FROM flushed');
      await other.run('DROP TABLE flushed');
      return [before, rows.length, rows.map((r) => Number(r.id))];
    } finally {
      db.close();
      other.close();
    }
  }

  it('hands the rows to the table every n rows, in order, and the rest on close', async () => {
    expect(await committed(flushing, 7)).toEqual([6, 7, [0, 1, 2, 3, 4, 5, 6]]);
  });

  it("without it, DuckDB's appender keeps them until close", async () => {
    expect(await committed(duck, 7)).toEqual([0, 7, [0, 1, 2, 3, 4, 5, 6]]);
  });
});

describe("Duck.configure: DuckDB's threads and memory limit from now on", () => {
  it('sets what is given, keeps the rest, and returns both as DuckDB reports them', async () => {
    const d = new Duck({ threads: '2', memory_limit: '512MB' });
    try {
      expect(await d.configure({ memoryLimit: '256MB' })).toEqual({ threads: 2, memoryLimit: '244.1 MiB' });
      expect(await d.configure({ threads: 1 })).toEqual({ threads: 1, memoryLimit: '244.1 MiB' });
      expect(await d.configure({ threads: 2, memoryLimit: '512MB' })).toEqual({ threads: 2, memoryLimit: '488.2 MiB' });
      // Every connection: a new one sees the instance's settings.
      expect(
        await d.with((db) =>
          db.one("SELECT current_setting('memory_limit') AS m, current_setting('threads')::INTEGER AS t"),
        ),
      ).toEqual({ m: '488.2 MiB', t: 2 });
    } finally {
      await d.close();
    }
  });
});
