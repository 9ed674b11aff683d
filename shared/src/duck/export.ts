import type { Db } from './index.js';
import { quoteIdent, quoteLiteral, text } from './sql.js';

/**
 * Neutralises a text cell against formula injection (OWASP): a value starting with `=`, `+`, `-`,
 * `@`, tab, CR or NUL gets a `'` in front. The same rule as neutralizeText, in SQL, so DuckDB can
 * write large CSVs itself.
 */
const neutralize = (col: string) =>
  `CASE WHEN ${col} <> '' AND ord(${col}[1]) IN (61, 43, 45, 64, 9, 13, 0) THEN '''' || ${col} ELSE ${col} END`;

/** UTF-8's byte-order mark: Excel (a French one included) then reads the file as UTF-8, accents intact. */
export const UTF8_BOM = '\ufeff';

/**
 * Writes the result of `sql` as deterministic CSV with DuckDB's writer: UTF-8 with a byte-order
 * mark (so that Excel shows `Millésimé`, not `MillÃ©simÃ©`); the query fixes the order;
 * DECIMAL keeps its scale (24.20), doubles print in their shortest exact form, `\n` line ends,
 * RFC 4180 quoting, text cells neutralised against formula injection; numbers and booleans as they
 * are. Returns the row count and the schema.
 */
export async function exportCsv(
  db: Db,
  sql: string,
  path: string,
): Promise<{ rowCount: number; columns: { name: string; type: string }[] }> {
  const query = sql.trim().replace(/;\s*$/, '');
  const described = await db.rows(`DESCRIBE (${query})`);
  const columns = described.map((r) => ({ name: text(r.column_name), type: text(r.column_type) }));
  // The mark goes in front of the first header name: DuckDB writes it as the file's first bytes.
  const header = (name: string, i: number) => quoteIdent(i === 0 ? UTF8_BOM + name : name);
  const select = columns
    .map((c, i) =>
      c.type === 'VARCHAR'
        ? `${neutralize(quoteIdent(c.name))} AS ${header(c.name, i)}`
        : `${quoteIdent(c.name)} AS ${header(c.name, i)}`,
    )
    .join(', ');
  const r = await db.one(`SELECT count(*)::INTEGER AS n FROM (${query})`);
  await db.run(
    `COPY (SELECT ${select} FROM (${query}) AS q) TO ${quoteLiteral(path)} (FORMAT csv, HEADER true, DELIMITER ',', QUOTE '"', ESCAPE '"')`,
  );
  return { rowCount: Number(r.n), columns };
}
