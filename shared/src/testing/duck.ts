import { Duck, type Db } from '../duck/index.js';

/**
 * Runs `fn` on a database of its own (a fresh in-memory DuckDB, closed afterwards): the rule tests
 * create the same table names test after test.
 *
 * @example
 * const rows = await freshDb(async (db) => { await db.run(loadSql(url)); return db.rows('SELECT ...'); });
 */
export async function freshDb<T>(fn: (db: Db) => Promise<T>): Promise<T> {
  const duck = new Duck({ threads: '1' });
  try {
    return await duck.with(fn);
  } finally {
    await duck.close();
  }
}
