// The floor for `npm run bench`: a bare process that only streams DIR/{erp,web,liaison}.xlsx,
// sequentially, through exceljs's streaming reader, iterating every worksheet and row and touching
// row.values. Whatever the pipeline costs beyond this is the pipeline's own overhead.
// Usage: node scripts/bench-floor.mjs DIR
// Prints one JSON line: {"rows":{"erp":N,"web":N,"liaison":N}} (data rows, i.e. without the header row).
import { join } from 'node:path';
import ExcelJS from 'exceljs';

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: node scripts/bench-floor.mjs DIR\n');
  process.exit(2);
}

const rows = {};
let cells = 0;
for (const name of ['erp', 'web', 'liaison']) {
  const reader = new ExcelJS.stream.xlsx.WorkbookReader(join(dir, `${name}.xlsx`), {
    sharedStrings: 'cache',
    styles: 'cache',
    hyperlinks: 'ignore',
    worksheets: 'emit',
  });
  let n = 0;
  let first = true;
  for await (const worksheet of reader) {
    for await (const row of worksheet) {
      cells += row.values.length; // touch every row's values
      if (first) first = false; // the header row of the first sheet
      else n++;
    }
  }
  rows[name] = n;
}
process.stdout.write(`${JSON.stringify({ rows, cells })}\n`);
