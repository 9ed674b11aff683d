import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { neutralizeText } from '../text/sanitize.js';
import { exportCsv } from './export.js';
import { Duck } from './index.js';

const duck = new Duck();
const dirs: string[] = [];
afterAll(async () => {
  await duck.close();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function csvOf(sql: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'bn-csv-'));
  dirs.push(dir);
  const path = join(dir, 'x.csv');
  await duck.with((db) => exportCsv(db, sql, path));
  return readFile(path, 'utf8');
}

describe('exportCsv', () => {
  it('starts with the UTF-8 byte-order mark, then the header, so that Excel keeps accents', async () => {
    const out = await csvOf(`SELECT 'Millésimé' AS title`);
    expect(Buffer.from(out).subarray(0, 3)).toEqual(Buffer.from([0xef, 0xbb, 0xbf]));
    expect(out).toBe('\ufefftitle\nMillésimé\n');
  });

  const dangerous = [
    '=1+1',
    '+33 1 23',
    '-2',
    '@SUM(A1)',
    '\tx',
    '\rx',
    '\0x',
    'plain',
    "'quoted",
    '',
    // Only the first character counts: not a dangerous one further on, nor after a line break.
    'Millésimé =1+1 -2',
    'a\n=1',
    `=${'é'.repeat(5_000)}`,
    `${'é'.repeat(5_000)}=`,
  ];

  it('neutralises text cells exactly as neutralizeText does, and leaves numbers alone', async () => {
    const values = dangerous
      .map(
        (v, i) =>
          `(${i}, ${v === '' ? "''" : `'${v.replace(/'/g, "''").replace('\t', "' || chr(9) || '").replace('\r', "' || chr(13) || '").replace('\0', "' || chr(0) || '")}'`}, -${i}.5::DECIMAL(5,2))`,
      )
      .join(', ');
    const out = (await csvOf(`SELECT * FROM (VALUES ${values}) t(id, txt, amount) ORDER BY id`)).replace(/^\ufeff/, '');
    const lines = out.split('\n');
    expect(lines[0]).toBe('id,txt,amount');
    // Parse back the middle column, unquoting as RFC 4180 says.
    const cells = out
      .slice(out.indexOf('\n') + 1)
      .trim()
      .split(/\n(?=\d+,)/)
      .map((l) => {
        const m = /^(\d+),("(?:[^"]|"")*"|[^,]*),(-?[\d.]+)$/s.exec(l)!;
        return { txt: m[2]!.startsWith('"') ? m[2]!.slice(1, -1).replace(/""/g, '"') : m[2]!, amount: m[3] };
      });
    expect(cells.map((c) => c.txt)).toEqual(dangerous.map((v) => neutralizeText(v)));
    expect(cells.map((c) => c.amount)).toEqual(dangerous.map((_, i) => `-${i}.50`));
  });

  it('quotes commas, quotes and newlines, writes NULL as an empty cell, and is byte-identical twice', async () => {
    const sql = `SELECT * FROM (VALUES (1, 'a,b', 'say "hi"', 'two\nlines', NULL::VARCHAR)) t(id, a, b, c, d)`;
    const [x, y] = [await csvOf(sql), await csvOf(sql)];
    expect(x).toBe('\ufeffid,a,b,c,d\n1,"a,b","say ""hi""","two\nlines",\n');
    expect(y).toBe(x);
  });

  it('returns the number of rows written and the columns (premium_wines and ordinary_wines count their rows by it)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bn-csv-'));
    dirs.push(dir);
    const info = await duck.with((db) =>
      exportCsv(db, `SELECT range::INTEGER AS n, 'x' AS s FROM range(1234) ORDER BY n`, join(dir, 'a.csv')),
    );
    expect(info).toEqual({
      rowCount: 1234,
      columns: [
        { name: 'n', type: 'INTEGER' },
        { name: 's', type: 'VARCHAR' },
      ],
    });
    const none = await duck.with((db) => exportCsv(db, `SELECT 1 AS n WHERE false`, join(dir, 'b.csv')));
    expect(none.rowCount).toBe(0);
    expect(await readFile(join(dir, 'b.csv'), 'utf8')).toBe('\ufeffn\n');
  });
});
