import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import ExcelJS from 'exceljs';
import { afterAll, describe, expect, it } from 'vitest';
import {
  cleanupTmp,
  cli,
  type CliResult,
  FIXTURES,
  NO_REFERENCE,
  publishedPath,
  REFERENCE,
  ROOT,
  tmp,
} from './helpers.js';
import { writeOpenpyxlMonth } from './openpyxl-copy.js';
import { readSheetValues } from '../shared/src/excel/read.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

if (!REFERENCE) console.warn(NO_REFERENCE);

describe.skipIf(!REFERENCE)('the reference month (analyst figures)', () => {
  /**
   * One plain run (no --json) of the reference month, made by the first test that needs it: the
   * workbook, the human output, the text cells and the inline side of the determinism test all read
   * the same run instead of running the CLI again for each. Nothing writes to its OUT.
   */
  let plain: Promise<{ out: string; r: CliResult }> | undefined;
  const plainRun = () =>
    (plain ??= (async () => {
      const out = await tmp();
      return { out, r: await cli(['run', '--input', REFERENCE!, '--out', out, '--partition', '2026-11']) };
    })());

  it('reproduces every figure, with --json, and exits 0', async () => {
    const out = await tmp();
    const r = await cli(['run', '--input', REFERENCE!, '--out', out, '--partition', '2026-11', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.status).toBe('succeeded');
    expect(s.partition).toBe('2026-11');
    expect(s.rowCounts).toMatchObject({
      erp_clean: 825,
      web_clean: 714,
      liaison_clean: 825,
      merged_with_revenue: 714,
      premium_wines: 30,
      ordinary_wines: 684,
    });
    expect(s.totalRevenue).toBe('70568.60');
    expect(s.premium).toBe(30);
    expect(s.ordinary).toBe(684);
    expect(s.error).toBeNull();
    // The two negative prices and two negative stocks of the ERP are warnings, not failures.
    const warns = s.checks
      .filter((c: { passed: boolean }) => !c.passed)
      .map((c: { asset: string; check: string }) => `${c.asset}.${c.check}`);
    expect(warns).toEqual(expect.arrayContaining(['erp_clean.price_not_negative', 'erp_clean.stock_not_negative']));
    expect(s.checks.filter((c: { passed: boolean; severity: string }) => !c.passed && c.severity === 'ERROR')).toEqual(
      [],
    );
    // The run's set under its own prefix, and the pointer readers follow, switched last.
    expect((await readdir(join(out, 'extracts', '2026-11'))).sort()).toEqual([s.runId, '_current.json']);
    const files = (await readdir(join(out, 'extracts', '2026-11', s.runId))).sort();
    expect(files).toEqual([
      '_manifest.json',
      'merged_with_revenue.csv',
      'ordinary_wines.csv',
      'premium_wines.csv',
      'revenue_per_product.xlsx',
    ]);
    const pointer = JSON.parse(await readFile(join(out, 'extracts', '2026-11', '_current.json'), 'utf8'));
    expect(pointer).toMatchObject({
      partition: '2026-11',
      runId: s.runId,
      prefix: `extracts/2026-11/${s.runId}/`,
      manifestKey: `extracts/2026-11/${s.runId}/_manifest.json`,
    });
    expect(pointer.files.map((f: { name: string }) => f.name).sort()).toEqual(
      files.filter((f) => f !== '_manifest.json'),
    );
  });

  it('writes the workbook: Revenue by Product sorted by revenue, Summary with the total', async () => {
    const { out, r } = await plainRun();
    expect(r.code, r.stderr).toBe(0);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(await publishedPath(out, '2026-11', 'revenue_per_product.xlsx'));
    const sheet = wb.getWorksheet('Revenue by Product')!;
    // Titles an analyst reads (the CSVs keep the machine names), bold, frozen, with an autofilter.
    expect(sheet.getRow(1).values).toEqual([undefined, 'Product ID', 'SKU', 'Product', 'Units sold', 'Revenue (€)']);
    expect(sheet.getRow(1).getCell(1).font?.bold).toBe(true);
    expect(sheet.views[0]).toMatchObject({ state: 'frozen', ySplit: 1 });
    expect(sheet.autoFilter).toBe('A1:E1');
    expect(sheet.rowCount).toBe(715);
    const revenues: number[] = [];
    sheet.eachRow((row, n) => {
      if (n > 1) revenues.push(row.getCell(5).value as number);
    });
    expect(revenues).toEqual([...revenues].sort((a, b) => b - a));
    expect(typeof sheet.getRow(2).getCell(5).value).toBe('number');
    expect(sheet.getRow(2).getCell(5).numFmt).toContain('€');
    expect(sheet.getRow(2).getCell(4).numFmt).toBe('#,##0');
    const summary = new Map<string, unknown>();
    const summarySheet = wb.getWorksheet('Summary')!;
    summarySheet.eachRow((row) => summary.set(String(row.getCell(1).value), row.getCell(2).value));
    expect(summary.get('Metric')).toBe('Value');
    expect(summary.get('Run')).toMatch(/^2026-11-\d{8}T\d{6}-[0-9a-f]{6}$/);
    expect(summary.get('Partition')).toBe('2026-11');
    // When the run was made: its start, which is also the workbook's creation date (not a fixed fake date).
    const made = summary.get('Made at (UTC)') as Date;
    expect(made).toBeInstanceOf(Date);
    expect(Math.abs(made.getTime() - Date.now())).toBeLessThan(24 * 3600_000);
    expect(Math.floor(wb.created.getTime() / 1000)).toBe(Math.floor(made.getTime() / 1000));
    expect((summary.get('Total revenue') as number).toFixed(2)).toBe('70568.60');
    expect(summary.get('Products')).toBe(714);
    expect(summary.get('Premium wines')).toBe(30);
    summarySheet.eachRow((row, n) => {
      if (n > 4) expect(row.getCell(2).numFmt, String(row.getCell(1).value)).toMatch(/#,##0/);
    });
    // Human output: progress per asset, then the summary and where the files are.
    expect(r.stdout).toMatch(/✓ clean +web_clean +714 rows/);
    // A warning says what was found, not the condition that would have passed.
    expect(r.stdout).toContain(
      '! warning      erp_clean.price_not_negative: 2 products have a negative price: 5017, 6594\n',
    );
    expect(r.stdout).toContain('total revenue');
    expect(r.stdout).toContain(dirname(await publishedPath(out, '2026-11', 'revenue_per_product.xlsx')));
  });

  it('publishes every text cell as the export holds it: no U+FFFD anywhere in the outputs', async () => {
    const { out, r } = await plainRun();
    expect(r.code, r.stderr).toBe(0);
    const dir = dirname(await publishedPath(out, '2026-11', 'merged_with_revenue.csv'));
    const merged = await readFile(join(dir, 'merged_with_revenue.csv'), 'utf8');
    // A web.xlsx text cell whose "é" straddled a chunk boundary of the old reader.
    expect(merged).toContain('doivent être remplacées par du savagnin');
    for (const f of ['merged_with_revenue.csv', 'premium_wines.csv', 'ordinary_wines.csv']) {
      expect((await readFile(join(dir, f), 'utf8')).includes('\ufffd'), f).toBe(false);
    }
    const report = await readSheetValues(
      join(dir, 'revenue_per_product.xlsx'),
      'revenue_per_product.xlsx',
      'Revenue by Product',
    );
    expect(report.rows.flat().some((v) => typeof v === 'string' && v.includes('\ufffd'))).toBe(false);
    expect(report.rows).toHaveLength(715);
  });

  it('is deterministic: two runs (inline and on worker threads) give byte-identical CSVs', async () => {
    // The plain run parses inline, the second on worker threads: where the work runs must not change a byte.
    const { out: a, r } = await plainRun();
    expect(r.code).toBe(0);
    const b = await tmp();
    expect(
      (await cli(['run', '--input', REFERENCE!, '--out', b, '--partition', '2026-11'], { BN_EXCEL_WORKERS: '2' })).code,
    ).toBe(0);
    for (const f of ['merged_with_revenue.csv', 'premium_wines.csv', 'ordinary_wines.csv']) {
      const [x, y] = await Promise.all([a, b].map(async (o) => readFile(await publishedPath(o, '2026-11', f))));
      expect(sha(x!), f).toBe(sha(y!));
    }
  });

  it('passes with the expectations fixture and fails (exit 1) when a figure differs', async () => {
    const out = await tmp();
    const ok = await cli([
      'run',
      '--input',
      REFERENCE!,
      '--out',
      out,
      '--partition',
      '2026-11',
      '--expect',
      join(FIXTURES, 'reference-month.expect.json'),
      '--json',
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    const passed = JSON.parse(ok.stdout).checks.filter(
      (c: { check: string; passed: boolean }) => c.check === 'matches_expectations',
    );
    expect(passed.length).toBeGreaterThanOrEqual(5);
    expect(passed.every((c: { passed: boolean }) => c.passed)).toBe(true);

    const wrong = join(await tmp(), 'wrong.json');
    await import('node:fs/promises').then((fs) => fs.writeFile(wrong, JSON.stringify({ totalRevenue: '70568.61' })));
    const out2 = await tmp();
    const bad = await cli([
      'run',
      '--input',
      REFERENCE!,
      '--out',
      out2,
      '--partition',
      '2026-11',
      '--expect',
      wrong,
      '--json',
    ]);
    expect(bad.code).toBe(1);
    const s = JSON.parse(bad.stdout);
    expect(s.error.code).toBe('BN_ERR_EXPECTATION_FAILED');
    expect(s.error.message).toBe(
      'blocking check failed in stage merge: merged_with_revenue.matches_expectations: totalRevenue is 70568.60, expected 70568.61',
    );
    await expect(readdir(join(out2, 'extracts'))).rejects.toThrow(/ENOENT/);
  });
});

describe.skipIf(!REFERENCE)("the reference month written by openpyxl (pandas' writer)", () => {
  it('gives the analyst figures: sheets found by name, not by position, whatever the part order', async () => {
    // Made here in Node, as openpyxl writes (worksheets before xl/workbook.xml, inline strings),
    // erp.xlsx with a decoy "Old prices" sheet (prices doubled) before Sheet1.
    const input = await tmp();
    await writeOpenpyxlMonth(REFERENCE!, input);
    const out = await tmp();
    const r = await cli(['run', '--input', input, '--out', out, '--partition', '2026-11', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.rowCounts).toMatchObject({
      erp_clean: 825,
      web_clean: 714,
      liaison_clean: 825,
      merged_with_revenue: 714,
      premium_wines: 30,
      ordinary_wines: 684,
    });
    expect(s.totalRevenue).toBe('70568.60');
    expect([s.premium, s.ordinary]).toEqual([30, 684]);
    expect(
      s.checks.filter((c: { check: string; passed: boolean }) => c.check === 'expected_sheet_present' && !c.passed),
    ).toEqual([]);
  });
});

afterAll(cleanupTmp);

describe('the command line', () => {
  it.skipIf(!REFERENCE)(
    "keeps Kafka, S3, SendGrid, the services' HTTP stack and exceljs off the embedded path",
    async () => {
      const out = await tmp();
      const list = join(out, 'modules.json');
      const esm = join(out, 'esm.txt');
      const r = await cli(['run', '--input', REFERENCE!, '--out', out, '--partition', '2026-11', '--json'], {
        NODE_OPTIONS: `--require ${join(FIXTURES, 'loaded-modules.cjs')} --import ${join(FIXTURES, 'loaded-esm.mjs')}`,
        BOTTLENECK_TEST_LOADED_MODULES: list,
        BOTTLENECK_TEST_LOADED_ESM: esm,
      });
      expect(r.code, r.stderr).toBe(0);
      const loaded = JSON.parse(await readFile(list, 'utf8')) as string[];
      // The list works: DuckDB's native binding is in it.
      expect(loaded.some((m) => m.includes('/node_modules/@duckdb/'))).toBe(true);
      // The report is written by the pipeline's own writer (issue 18): no spreadsheet library either.
      for (const pkg of ['kafkajs', '@aws-sdk', '@sendgrid', 'fastify', 'pino', 'prom-client', 'croner', 'exceljs']) {
        expect(
          loaded.filter((m) => m.includes(`/node_modules/${pkg}/`)),
          pkg,
        ).toEqual([]);
      }
      // Start-up (issue 18): zod as the build's one bundled module, not its ESM build's ~95, and
      // none of the console's catalog (the runner imports it for a backfill's trigger only).
      const modules = (await readFile(esm, 'utf8')).split('\n');
      expect(modules.some((m) => m.endsWith('/shared/dist/events/zod.js'))).toBe(true);
      expect(modules.filter((m) => m.includes('/node_modules/zod/'))).toEqual([]);
      expect(modules.filter((m) => m.includes('/shared/dist/catalog/'))).toEqual([]);
      // The graph as the build bundled it (scripts/bundle-run.mjs), and none of its modules also
      // loaded as a file: two copies of a module are two sets of its classes and state.
      const bundle = join(ROOT, 'cli', 'dist', 'embedded.bundle.json');
      if (existsSync(bundle)) {
        const bundled = (JSON.parse(await readFile(bundle, 'utf8')) as { modules: { path: string }[] }).modules;
        expect(bundled.length).toBeGreaterThan(0);
        expect(modules.some((m) => m.endsWith('/cli/dist/embedded.bundle.js'))).toBe(true);
        expect(modules.filter((m) => bundled.some((b) => m.endsWith(`/${b.path}`)))).toEqual([]);
      }
    },
  );

  it('exits 2 with a message on a usage error', async () => {
    const r = await cli(['run', '--out', '/tmp/x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('run needs --input DIR');
    const bad = await cli(['run', '--input', '.', '--out', '/tmp/x', '--partition', '2026-13']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--partition must be YYYY-MM (got "2026-13")');
    expect((await cli(['frobnicate'])).code).toBe(2);
    const badExpect = await cli(['run', '--input', '.', '--out', '/tmp/x', '--expect', join(FIXTURES, 'nope.json')]);
    expect(badExpect.code).toBe(2);
    expect(badExpect.stderr).toContain(`--expect ${join(FIXTURES, 'nope.json')}: ENOENT`);
  });

  it('trigger against an unreachable broker: one line saying what to set, exit 69, no stack trace', async () => {
    const r = await cli(['trigger', '--partition', '2026-11'], { KAFKA_BROKERS: '127.0.0.1:1' });
    expect(r.code).toBe(69);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      'bottleneck: could not reach Kafka at 127.0.0.1:1 (KAFKA_BROKERS): start the services (docker compose up) or set KAFKA_BROKERS to a broker this machine can reach, e.g. localhost:9094 for the compose stack.\n',
    );
  });

  it('prints the asset graph as Mermaid', async () => {
    const r = await cli(['graph']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^flowchart LR/);
    expect(r.stdout).toContain('merged_with_revenue --> revenue_per_product');
    expect(r.stdout).toContain('subgraph analytics');
  });

  it('runs the demo on a generated month', async () => {
    const out = await tmp();
    const r = await cli(['demo', '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.status).toBe('succeeded');
    expect(s.rowCounts.merged_with_revenue).toBeGreaterThan(500);
    expect(s.premium).toBeGreaterThan(0);
  });
});
