import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { neutralizeText } from '../text/sanitize.js';
import { csvRowsAsWritten, exportCsv } from './export.js';
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

describe('csvRowsAsWritten', () => {
  const file = async (text: string | Buffer) => {
    const dir = await mkdtemp(join(tmpdir(), 'bn-csv-'));
    dirs.push(dir);
    const path = join(dir, 'x.csv');
    await writeFile(path, text);
    return path;
  };

  it('counts what exportCsv wrote as DuckDB reads it back: quoted line ends, quotes, commas, CRs, empty fields', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bn-csv-'));
    dirs.push(dir);
    const path = join(dir, 'w.csv');
    const sql = `SELECT range AS id, CASE range % 5 WHEN 0 THEN 'Ch\u00e2teau "M", 2e cru' || chr(10) || 'ligne 2'
      WHEN 1 THEN NULL WHEN 2 THEN '' WHEN 3 THEN 'a' || chr(13) || chr(10) || 'b,"c"' ELSE '=1+1' END AS title,
      (range / 7)::DECIMAL(18,2) AS price FROM range(2345) ORDER BY id`;
    const info = await duck.with((db) => exportCsv(db, sql, path));
    const duckdb = await duck.with((db) =>
      db.one(`SELECT count(*)::INTEGER AS n FROM read_csv('${path}', header = true, all_varchar = true)`),
    );
    expect(await csvRowsAsWritten(path)).toBe(info.rowCount);
    expect(info.rowCount).toBe(2345);
    expect(duckdb.n).toBe(2345);
  });

  it('a header alone is no row; an empty file neither; a last row without its line end counts; CRLF as LF', async () => {
    expect(await csvRowsAsWritten(await file('\ufeffa,b\n'))).toBe(0);
    expect(await csvRowsAsWritten(await file(''))).toBe(0);
    expect(await csvRowsAsWritten(await file('a,b\n1,2\n3,4'))).toBe(2);
    expect(await csvRowsAsWritten(await file('a,b\r\n1,2\r\n"x\r\ny",4\r\n'))).toBe(2);
  });

  it('reads across chunks: a quoted line end at any offset of a large file', async () => {
    const row = (i: number) => `${i},"${'x'.repeat(i % 300)}\n${'y'.repeat(97)}"\n`;
    const text = 'n,t\n' + Array.from({ length: 3000 }, (_, i) => row(i)).join('');
    expect(Buffer.byteLength(text)).toBeGreaterThan(4 * 65536);
    expect(await csvRowsAsWritten(await file(text))).toBe(3000);
  });

  it('refuses a file cut short or a row with another number of fields, naming the file and the line', async () => {
    const cut = await file('a,b\n1,"two\nlines');
    await expect(csvRowsAsWritten(cut)).rejects.toThrow(
      `${cut}: the row from line 2 opens a quoted field that does not close`,
    );
    const short = await file('a,b\n1,2\n"3\n",4\n5\n');
    await expect(csvRowsAsWritten(short)).rejects.toThrow(`${short}: the row from line 5 has 1 field, the header 2`);
    const long = await file('a,b\n1,2,3\n');
    await expect(csvRowsAsWritten(long)).rejects.toThrow('the row from line 2 has 3 fields, the header 2');
  });
});
