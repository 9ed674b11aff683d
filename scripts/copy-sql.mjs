// Copies the .sql files kept next to their assets in src/ into dist/, where the compiled stages load them.
import { cpSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const roots = ['shared', ...readdirSync('services').map((s) => join('services', s)), 'cli'];
let n = 0;
function walk(src, dst) {
  for (const name of readdirSync(src)) {
    const s = join(src, name);
    const d = join(dst, name);
    if (statSync(s).isDirectory()) walk(s, d);
    else if (name.endsWith('.sql')) { cpSync(s, d); n++; }
  }
}
for (const r of roots) {
  try { statSync(join(r, 'src')); } catch { continue; }
  walk(join(r, 'src'), join(r, 'dist'));
}
if (process.argv.includes('--verbose')) console.log(`copied ${n} sql files`);
