// Rewrites the README's generated blocks from the code (after `npm run build`): the configuration
// table (<!-- variables:start --> ... <!-- variables:end -->) and the asset graph (<!-- graph:start
// --> ... <!-- graph:end -->). test/readme.test.ts fails when they differ from the code.
//   npm run docs
import { readFileSync, writeFileSync } from 'node:fs';

const { variablesTable } = await import('../shared/dist/service/variables.js');
const { toMermaid } = await import('../shared/dist/assets/graph.js');
const path = new URL('../README.md', import.meta.url);
let readme = readFileSync(path, 'utf8');
const replace = (name, body) => {
  const re = new RegExp(`(<!-- ${name}:start -->\\n)[\\s\\S]*?(<!-- ${name}:end -->)`);
  if (!re.test(readme)) throw new Error(`README.md has no <!-- ${name}:start --> block`);
  readme = readme.replace(re, `$1${body}$2`);
};
replace('variables', variablesTable());
replace('graph', '```mermaid\n' + toMermaid() + '```\n');
writeFileSync(path, readme);
console.log('README.md: configuration table and asset graph written from the code');
