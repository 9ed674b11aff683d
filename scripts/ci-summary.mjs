#!/usr/bin/env node
// Reads the vitest summaries in a log ("      Tests  114 passed | 2 skipped (116)") and prints
// one plain closing line over all of them: "N passed, N failed, N skipped". CI's log reader
// knows that line in any language; vitest's own summary it does not. Exits 1 when the log holds no
// summary at all (the test command ran no test) or when any test failed.
import { readFileSync } from 'node:fs';

const file = process.argv[2];
if (!file) {
  console.error('usage: node scripts/ci-summary.mjs LOG');
  process.exit(2);
}
// eslint-disable-next-line no-control-regex
const text = readFileSync(file, 'utf8').replace(/\u001b\[[0-9;]*m/g, '');
let runs = 0;
const total = { passed: 0, failed: 0, skipped: 0 };
for (const line of text.split('\n')) {
  const m = /^\s*Tests\s+(.*)\((\d+)\)\s*$/.exec(line);
  if (!m) continue;
  runs += 1;
  for (const part of m[1].split('|')) {
    const p = /(\d+)\s+(passed|failed|skipped|todo)/.exec(part);
    if (!p) continue;
    const n = Number(p[1]);
    if (p[2] === 'passed') total.passed += n;
    else if (p[2] === 'failed') total.failed += n;
    else total.skipped += n;
  }
}
if (runs === 0) {
  console.error(`${file}: no vitest summary found: the test command ran no test`);
  process.exit(1);
}
console.log(`${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
process.exit(total.failed > 0 || total.passed === 0 ? 1 : 0);
