// Copies the .sql files kept next to their assets in src/ into dist/, where the compiled stages load
// them, and removes .sql files from dist/ that src/ no longer has (a renamed or deleted query).
import { cpSync, existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

const roots = ['shared', ...readdirSync('services').map((s) => join('services', s)), 'cli'];
let copied = 0;
let removed = 0;
function walk(src, dst) {
  for (const name of readdirSync(src)) {
    const s = join(src, name);
    const d = join(dst, name);
    if (statSync(s).isDirectory()) walk(s, d);
    else if (name.endsWith('.sql')) {
      cpSync(s, d);
      copied++;
    }
  }
}
function prune(src, dst) {
  if (!existsSync(dst)) return;
  for (const name of readdirSync(dst)) {
    const s = join(src, name);
    const d = join(dst, name);
    if (statSync(d).isDirectory()) prune(s, d);
    else if (name.endsWith('.sql') && !existsSync(s)) {
      rmSync(d);
      removed++;
    }
  }
}
for (const r of roots) {
  if (!existsSync(join(r, 'src'))) continue;
  walk(join(r, 'src'), join(r, 'dist'));
  prune(join(r, 'src'), join(r, 'dist'));
}
if (process.argv.includes('--verbose')) console.log(`copied ${copied} sql files, removed ${removed} stale ones`);
