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
