import { copyFile, readFile, readdir, rm, truncate, writeFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateMonth } from '../cli/src/generate/index.js';
import { cleanupTmp, cli, FIXTURES, tmp } from './helpers.js';

let base: string;

beforeAll(async () => {
  base = await tmp('bn-base-');
  await generateMonth({ outDir: base, scale: 0.25, seed: 7 });
});

/** A copy of the generated month in which `mutate` breaks something. */
async function month(mutate: (dir: string) => Promise<void>): Promise<string> {
  const dir = await tmp('bn-bad-');
  for (const f of ['erp.xlsx', 'web.xlsx', 'liaison.xlsx']) await copyFile(join(base, f), join(dir, f));
  await mutate(dir);
  return dir;
}

async function editSheet(path: string, edit: (ws: ExcelJS.Worksheet) => void): Promise<void> {
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.readFile(path);
  edit(wb.getWorksheet('Sheet1')!);
  await wb.xlsx.writeFile(path);
}

interface Failure {
  code: number | null;
  summary: {
    status: string;
    error: { stage: string; code: string; message: string; location?: Record<string, unknown> };
  };
  record: Record<string, unknown> & { alert: { status: string } };
  mail: {
    subject: string;
    content: { type: string; value: string }[];
    personalizations: { to: { email: string }[] }[];
  };
}

/** Runs the CLI on a bad month and checks what every failure must give: exit 1, a dead-letter record, one alert, no extracts. */
async function runBad(input: string): Promise<Failure> {
  const out = await tmp('bn-out-');
  const r = await cli(['run', '--input', input, '--out', out, '--partition', '2026-12', '--json']);
  expect(r.code, r.stderr).toBe(1);
  const summary = JSON.parse(r.stdout);
  expect(summary.status).toBe('failed');
  const dl = await readdir(join(out, 'dead-letter', '2026-12'));
  expect(dl).toEqual([`${summary.runId}.json`]);
  const record = JSON.parse(await readFile(join(out, 'dead-letter', '2026-12', dl[0]!), 'utf8'));
  const outbox = (await readdir(join(out, 'outbox'))).filter((f) => f.endsWith('.json'));
  expect(outbox).toHaveLength(1);
  const mail = JSON.parse(await readFile(join(out, 'outbox', outbox[0]!), 'utf8'));
  await expect(stat(join(out, 'extracts'))).rejects.toThrow(/ENOENT/);
  expect(record.runId).toBe(summary.runId);
  expect(record.partition).toBe('2026-12');
  expect(record.message).toBe(summary.error.message);
  expect(record.alert.status).toBe('sent');
  expect(mail.subject).toBe(`[BottleNeck pipeline] run failed at stage ${summary.error.stage} for 2026-12`);
  const text = mail.content.find((c: { type: string }) => c.type === 'text/plain').value as string;
  expect(text).toContain(summary.runId);
  expect(text).toContain(summary.error.message);
  return { code: r.code, summary, record, mail };
}

afterAll(cleanupTmp);

describe('bad input: a clear error, a dead-letter record, an alert, nothing published', () => {
  it('a missing file is a usage error (exit 2) naming every missing file at the path given, with nothing run', async () => {
    const input = await month(async (d) => {
      await rm(join(d, 'liaison.xlsx'));
      await rm(join(d, 'web.xlsx'));
    });
    const out = await tmp('bn-out-');
    const r = await cli(['run', '--input', input, '--out', out, '--partition', '2026-12']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `bottleneck: --input ${input}: ${join(input, 'web.xlsx')}, ${join(input, 'liaison.xlsx')} are missing; the month needs erp.xlsx, web.xlsx and liaison.xlsx\nRun "bottleneck help" for usage.\n`,
    );
    expect(await readdir(out)).toEqual([]);
  });

  it('an input folder that does not exist is a usage error (exit 2)', async () => {
    const out = await tmp('bn-out-');
    const r = await cli(['run', '--input', 'no/such/folder', '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'bottleneck: --input no/such/folder: no such folder (it should hold erp.xlsx, web.xlsx, liaison.xlsx)\nRun "bottleneck help" for usage.\n',
    );
  });

  it('refuses an input folder inside OUT (exit 2) and leaves the files there as they were', async () => {
    const out = await tmp('bn-out-');
    const inside = join(out, 'extracts', '2026-12');
    await import('node:fs/promises').then((fs) => fs.mkdir(inside, { recursive: true }));
    for (const f of ['erp.xlsx', 'web.xlsx', 'liaison.xlsx']) await copyFile(join(base, f), join(inside, f));
    const r = await cli(['run', '--input', inside, '--out', out, '--partition', '2026-12']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `bottleneck: --input ${inside} is inside --out ${out}: the run writes there and could replace or delete your files; give an input folder outside ${out}\nRun "bottleneck help" for usage.\n`,
    );
    for (const f of ['erp.xlsx', 'web.xlsx', 'liaison.xlsx'])
      expect(await readFile(join(inside, f))).toEqual(await readFile(join(base, f)));
    expect((await readdir(inside)).sort()).toEqual(['erp.xlsx', 'liaison.xlsx', 'web.xlsx']);
  });

  it('a truncated xlsx', async () => {
    const f = await runBad(
      await month(async (d) => truncate(join(d, 'erp.xlsx'), Math.floor((await stat(join(d, 'erp.xlsx'))).size / 2))),
    );
    expect(f.summary.error.code).toBe('BN_ERR_INPUT_CORRUPT');
    expect(f.summary.error.message).toBe(
      'erp.xlsx is truncated or corrupt (no zip central directory): the file was cut during copy or upload; drop it again',
    );
  });

  it('a corrupt xlsx (damaged bytes inside)', async () => {
    const f = await runBad(
      await month(async (d) => {
        const b = await readFile(join(d, 'web.xlsx'));
        b.fill(0x41, 4000, 4100);
        await writeFile(join(d, 'web.xlsx'), b);
      }),
    );
    expect(f.summary.error.code).toBe('BN_ERR_INPUT_CORRUPT');
    expect(f.summary.error.message).toMatch(
      /^web\.xlsx is corrupt: zip entry \S+ (does not inflate|fails its CRC-32 check|has \d+ bytes)/,
    );
  });

  it('a text file renamed .xlsx', async () => {
    const f = await runBad(await month((d) => writeFile(join(d, 'web.xlsx'), 'sku;total_sales\n16004;5\n')));
    expect(f.summary.error.code).toBe('BN_ERR_INPUT_NOT_XLSX');
    expect(f.summary.error.message).toBe(
      'web.xlsx is not an xlsx workbook (it does not start with the zip signature PK): export it again from Excel as .xlsx',
    );
  });

  it('a required column missing', async () => {
    const f = await runBad(await month((d) => editSheet(join(d, 'erp.xlsx'), (ws) => ws.spliceColumns(3, 1))));
    expect(f.summary.error.code).toBe('BN_ERR_INPUT_COLUMN_MISSING');
    expect(f.summary.error.message).toBe(
      'erp.xlsx, sheet "Sheet1", header row 1: required column "price" missing (found: "product_id", "onsale_web", "stock_quantity", "stock_status")',
    );
    expect(f.record.location).toEqual({ file: 'erp.xlsx', sheet: 'Sheet1', column: 'price', row: 1 });
    // Found by ingest's vital check, before any stage parses the file.
    expect(f.record.asset).toBe('raw_erp');
    expect(f.summary.error.stage).toBe('ingest');
  });

  it('a non-numeric value in a numeric column', async () => {
    const f = await runBad(
      await month((d) =>
        editSheet(join(d, 'erp.xlsx'), (ws) => {
          ws.getCell('C12').value = 'vingt euros';
        }),
      ),
    );
    expect(f.summary.error.code).toBe('BN_ERR_INPUT_BAD_VALUE');
    expect(f.summary.error.message).toBe(
      'erp.xlsx, sheet "Sheet1", column "price", row 12: "vingt euros" is not a number. Fix the cell in the export and drop the file again.',
    );
    expect(f.record.location).toEqual({ file: 'erp.xlsx', sheet: 'Sheet1', column: 'price', row: 12 });
    expect(f.summary.error.stage).toBe('clean');
  });

  it('an empty sheet', async () => {
    const f = await runBad(
      await month(async (d) => {
        const wb = new ExcelJS.Workbook();
        wb.addWorksheet('Sheet1');
        await wb.xlsx.writeFile(join(d, 'liaison.xlsx'));
      }),
    );
    expect(f.summary.error.code).toBe('BN_ERR_INPUT_EMPTY');
    expect(f.summary.error.message).toBe('liaison.xlsx, sheet "Sheet1" is empty: no header row');
  });

  it('conflicting duplicate ERP keys', async () => {
    let dupId = 0;
    const f = await runBad(
      await month((d) =>
        editSheet(join(d, 'erp.xlsx'), (ws) => {
          const src = ws.getRow(5);
          dupId = src.getCell(1).value as number;
          const vals = (src.values as unknown[]).slice(1);
          vals[2] = (vals[2] as number) + 1;
          ws.addRow(vals);
        }),
      ),
    );
    expect(f.summary.error.code).toBe('BN_ERR_CHECK_FAILED');
    expect(f.summary.error.stage).toBe('clean');
    expect(f.summary.error.message).toBe(
      `blocking check failed in stage clean: erp_clean.product_id_unique: 1 product_id appears twice with different data: ${dupId}`,
    );
    expect(f.record.failedChecks).toEqual([
      { asset: 'erp_clean', check: 'product_id_unique', metadata: { duplicateProductIds: [String(dupId)] } },
    ]);
  });

  it('a 0-byte file says it is empty', async () => {
    const f = await runBad(await month((d) => writeFile(join(d, 'liaison.xlsx'), Buffer.alloc(0))));
    expect(f.summary.error).toMatchObject({
      code: 'BN_ERR_INPUT_EMPTY',
      stage: 'ingest',
      message:
        'liaison.xlsx is empty (0 bytes): the export or the copy did not finish; export it again from Excel and drop it again',
    });
  });

  it('two sheets and none named Sheet1: the error lists them', async () => {
    const f = await runBad(
      await month((d) =>
        editSheet(join(d, 'erp.xlsx'), (ws) => {
          ws.name = 'Prices';
          ws.workbook.addWorksheet('Notes').addRow(['checked']);
        }),
      ),
    );
    expect(f.summary.error).toMatchObject({
      code: 'BN_ERR_INPUT_SHEET_MISSING',
      stage: 'ingest',
      message: 'erp.xlsx: sheet "Sheet1" is missing (sheets found: "Prices", "Notes"); name the sheet to read "Sheet1"',
    });
    expect(f.record.location).toEqual({ file: 'erp.xlsx', sheet: 'Sheet1' });
  });

  it('stops in clean without ever importing exceljs: the read path does not use it', async () => {
    const input = await month((d) =>
      editSheet(join(d, 'erp.xlsx'), (ws) => {
        ws.getCell('C12').value = 'vingt euros';
      }),
    );
    const out = await tmp('bn-out-');
    const list = join(out, 'modules.json');
    const r = await cli(['run', '--input', input, '--out', out, '--partition', '2026-12', '--json'], {
      NODE_OPTIONS: `--require ${join(FIXTURES, 'loaded-modules.cjs')}`,
      BOTTLENECK_TEST_LOADED_MODULES: list,
    });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error.stage).toBe('clean');
    const loaded = JSON.parse(await readFile(list, 'utf8')) as string[];
    // The reader ran (its zip library, required), with its own XML scanner: saxes is only the scanner's tests' yardstick.
    expect(loaded.some((m) => m.includes('/node_modules/yauzl/'))).toBe(true);
    expect(loaded.filter((m) => m.includes('/node_modules/exceljs/') || m.includes('/node_modules/saxes/'))).toEqual(
      [],
    );
  });

  it('with BN_CONSOLE_URL, the failure output and the alert mail link to the failed run; its log says why', async () => {
    const input = await month((d) =>
      editSheet(join(d, 'erp.xlsx'), (ws) => {
        ws.getCell('C12').value = 'vingt euros';
      }),
    );
    const out = await tmp('bn-out-');
    const env = { BN_CONSOLE_URL: 'https://console.example/' };
    const r = await cli(['run', '--input', input, '--out', out, '--partition', '2026-12'], env);
    expect(r.code).toBe(1);
    const runId = /^Run (\S+) for 2026-12 FAILED/m.exec(r.stdout)?.[1];
    const link = `https://console.example/#/runs/${runId}`;
    expect(r.stdout).toContain(`\nIn the console: ${link}\n`);
    const outbox = (await readdir(join(out, 'outbox'))).filter((f) => f.endsWith('.json'));
    const mail = JSON.parse(await readFile(join(out, 'outbox', outbox[0]!), 'utf8')) as Failure['mail'];
    expect(mail.content.find((c) => c.type === 'text/plain')!.value).toContain(
      `\n\nOpen the run in the console: ${link}`,
    );
    expect(mail.content.find((c) => c.type === 'text/html')!.value).toContain(`<a href="${link}">${link}</a>`);
    const json = await cli(['run', '--input', input, '--out', out, '--partition', '2026-12', '--json'], env);
    const summary = JSON.parse(json.stdout) as { runId: string; link: string };
    expect(summary.link).toBe(`https://console.example/#/runs/${summary.runId}`);
    // The stage's log, kept with the run record, names the asset and the cell.
    const logs = await cli(['logs', runId!, '--out', out, '--stage', 'clean', '--level', 'error']);
    expect(logs.code).toBe(0);
    expect(logs.stdout).toContain(
      'ERROR  clean      erp_clean failed: erp.xlsx, sheet "Sheet1", column "price", row 12: "vingt euros" is not a number.',
    );
  });

  it('escapes the message in the HTML alert', async () => {
    const f = await runBad(
      await month((d) =>
        editSheet(join(d, 'erp.xlsx'), (ws) => {
          ws.getCell('C7').value = '<b>vingt</b> & "euros"';
        }),
      ),
    );
    const html = f.mail.content.find((c) => c.type === 'text/html')!.value;
    expect(html).toContain('&quot;&lt;b&gt;vingt&lt;/b&gt; &amp; \\&quot;euros\\&quot;&quot;');
    expect(html).not.toContain('<b>vingt</b>');
  });
});

describe('inputs read with a warning', () => {
  it('an export whose only sheet is not named Sheet1 is read, and a WARN check names the sheet read', async () => {
    const input = await month((d) =>
      editSheet(join(d, 'web.xlsx'), (ws) => {
        ws.name = 'wc-product-export';
      }),
    );
    const out = await tmp('bn-out-');
    const r = await cli(['run', '--input', input, '--out', out, '--partition', '2026-12', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.status).toBe('succeeded');
    const sheetChecks = s.checks.filter((c: { check: string }) => c.check === 'expected_sheet_present');
    expect(
      sheetChecks.map((c: { asset: string; passed: boolean; severity: string; metadata: unknown }) => [
        c.asset,
        c.passed,
        c.severity,
        c.metadata,
      ]),
    ).toEqual([
      ['erp_clean', true, 'WARN', { sheetRead: 'Sheet1' }],
      ['web_clean', false, 'WARN', { expected: 'Sheet1', sheetRead: 'wc-product-export' }],
      ['liaison_clean', true, 'WARN', { sheetRead: 'Sheet1' }],
    ]);
  });
});

describe('the process survives a hostile workbook', () => {
  it('a zip bomb is refused before parsing', async () => {
    const dir = await month(async (d) => {
      const { deflateRawSync, crc32 } = await import('node:zlib');
      const body = Buffer.alloc(60 * 1024 * 1024, 0x20);
      const data = deflateRawSync(body, { level: 9 });
      const name = Buffer.from('xl/worksheets/sheet1.xml');
      const wbName = Buffer.from('xl/workbook.xml');
      const entries = [
        { name, data, size: body.length, crc: crc32(body) },
        { name: wbName, data: Buffer.alloc(0), size: 0, crc: 0 },
      ];
      const parts: Buffer[] = [],
        central: Buffer[] = [];
      let off = 0;
      for (const e of entries) {
        const lh = Buffer.alloc(30);
        lh.writeUInt32LE(0x04034b50, 0);
        lh.writeUInt16LE(20, 4);
        lh.writeUInt16LE(8, 8);
        lh.writeUInt32LE(e.crc >>> 0, 14);
        lh.writeUInt32LE(e.data.length, 18);
        lh.writeUInt32LE(e.size, 22);
        lh.writeUInt16LE(e.name.length, 26);
        const ch = Buffer.alloc(46);
        ch.writeUInt32LE(0x02014b50, 0);
        ch.writeUInt16LE(20, 4);
        ch.writeUInt16LE(20, 6);
        ch.writeUInt16LE(8, 10);
        ch.writeUInt32LE(e.crc >>> 0, 16);
        ch.writeUInt32LE(e.data.length, 20);
        ch.writeUInt32LE(e.size, 24);
        ch.writeUInt16LE(e.name.length, 28);
        ch.writeUInt32LE(off, 42);
        parts.push(lh, e.name, e.data);
        central.push(ch, e.name);
        off += 30 + e.name.length + e.data.length;
      }
      const cd = Buffer.concat(central);
      const eocd = Buffer.alloc(22);
      eocd.writeUInt32LE(0x06054b50, 0);
      eocd.writeUInt16LE(2, 8);
      eocd.writeUInt16LE(2, 10);
      eocd.writeUInt32LE(cd.length, 12);
      eocd.writeUInt32LE(off, 16);
      await writeFile(join(d, 'web.xlsx'), Buffer.concat([...parts, cd, eocd]));
    });
    const f = await runBad(dir);
    expect(f.summary.error.code).toBe('BN_ERR_INPUT_TOO_LARGE');
    expect(f.summary.error.message).toMatch(
      /^web\.xlsx looks like a zip bomb: entry xl\/worksheets\/sheet1\.xml expands \d+ times \(at most 200 allowed\)$/,
    );
  });

  it('a file over the size budget is refused', async () => {
    const out = await tmp('bn-out-');
    const r = await cli(['run', '--input', base, '--out', out, '--partition', '2026-12', '--json'], {
      BN_MAX_FILE_BYTES: '40000',
    });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error.message).toMatch(
      /^web\.xlsx is \d+ bytes, more than the 40000 bytes allowed \(BN_MAX_FILE_BYTES\)$/,
    );
  });
});
